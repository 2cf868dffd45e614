"""Operational transformation of plain text, with the semantics of ShareDB's ``text-unicode``
type (github.com/ottypes/text-unicode): what the document editor needs to keep its edits
and others' in step. Pure functions over plain values; no I/O.

A copy of Chronicle's ``domain/text_ot.py`` (apply, compose, transform and the cursor
transforms, with the checks they make): this package is installed on its own and cannot
import Chronicle's domain. ``tests/integration/sdk/test_text_ot.py`` checks that both agree on
generated ops; change them together.

An op walks the document from its start, component by component: a retain ``n`` keeps
the next ``n`` code points, an insert ``"text"`` inserts it, a delete ``{"d": n}`` removes
the next ``n``. Text after the last component is kept.
"""

from __future__ import annotations

from typing import Literal, TypedDict, cast

NUL = "\x00"


class InvalidOp(ValueError):
    """An op that is malformed, or does not fit the text it is applied to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Delete(TypedDict):
    """A delete component: ``{"d": n}`` removes ``n`` code points."""

    d: int


class Selection(TypedDict):
    """A selection of ``length`` code points from ``index`` (a caret when ``length`` is 0)."""

    index: int
    length: int


Component = int | str | Delete
Op = list[Component]
Side = Literal["left", "right"]

FIELD = "op"  # the field a malformed op is reported under


def check(op: object) -> None:
    """Raise `InvalidOp` naming the first malformed component of ``op``, if any.

    Adjacent components of one kind and a trailing retain are allowed here: they are
    well formed, only not normalised (`normalize`)."""
    if not isinstance(op, list):
        raise InvalidOp(FIELD, "must be a list of components")
    for i, component in enumerate(op):
        problem = _problem(component)
        if problem:
            raise InvalidOp(FIELD, f"component {i}: {problem}")


def _problem(component: object) -> str | None:
    if isinstance(component, bool):
        return "true and false are not components"
    if isinstance(component, int):
        return None if component > 0 else f"a retain must be positive, not {component}"
    if isinstance(component, str):
        if not component:
            return "an insert must not be empty"
        return "an insert must not contain NUL characters" if NUL in component else None
    if isinstance(component, dict):
        if set(component) != {"d"}:
            return 'a delete is {"d": n} with no other key'
        count = component["d"]
        if isinstance(count, str):
            return 'a delete is {"d": n}, a count of code points; deleted text is not taken'
        if isinstance(count, bool) or not isinstance(count, int):
            return 'a delete is {"d": n} with n a whole number'
        return None if count > 0 else f"a delete must be positive, not {count}"
    return (
        f'not a retain (n), an insert ("text") or a delete ({{"d": n}}): {type(component).__name__}'
    )


def normalize(op: object) -> Op:
    """``op`` checked (`check`) and in its canonical form: adjacent components of one kind
    merged, no trailing retain. Components are copied; ``op`` is left as it was."""
    check(op)
    result = _Builder()
    for component in cast(Op, op):
        result.add(component)
    return result.build()


def _normalized(op: object) -> Op:
    """``op`` itself when it is well formed and normalised already (as every op applied
    is), found in one pass without copying; else `normalize` of it (which also checks)."""
    if type(op) is list:
        previous: type | None = None  # the kind of the component before
        for component in op:
            kind = type(component)
            if kind is previous:
                break
            if kind is int:
                if component <= 0:
                    break
            elif kind is str:
                if not component or NUL in component:
                    break
            elif not _is_delete(component):
                break
            previous = kind
        else:
            if previous is not int:
                return cast(Op, op)
    return normalize(op)


def _is_delete(component: object) -> bool:
    """Whether ``component`` is a well-formed delete, ``{"d": n}`` with ``n`` >= 1."""
    if type(component) is not dict or len(component) != 1:
        return False
    count = component.get("d")
    return type(count) is int and count > 0


def apply(text: str, op: Op) -> str:
    """``text`` changed by ``op``. `InvalidOp` if ``op`` is malformed or does not fit
    (`result_length`)."""
    result_length(op, len(text))
    parts: list[str] = []
    position = 0
    for component in op:
        if isinstance(component, int):
            parts.append(text[position : position + component])
            position += component
        elif isinstance(component, str):
            parts.append(component)
        else:
            position += component["d"]
    parts.append(text[position:])
    return "".join(parts)


def result_length(op: Op, length: int) -> int:
    """The length of what ``op`` makes of a text of ``length`` code points, found without
    making it. `InvalidOp` if ``op`` is malformed or does not fit such a text: a retain
    past its end, or a delete of more than remains."""
    check(op)
    position = 0
    made = length
    for component in op:
        if isinstance(component, int):
            if position + component > length:
                raise InvalidOp(
                    FIELD, f"retains past the end of the document ({length} characters)"
                )
            position += component
        elif isinstance(component, str):
            made += len(component)
        else:
            if position + component["d"] > length:
                raise InvalidOp(
                    FIELD, f"deletes {component['d']} characters where {length - position} remain"
                )
            position += component["d"]
            made -= component["d"]
    return made


def transform(op: Op, other: Op, side: Side) -> Op:
    """``op`` rewritten to apply after ``other``, both made on the same document.

    Where both insert at the same place, the ``"left"`` side's text comes first: the op
    transformed as ``"left"`` keeps its place, as ``"right"`` it moves after ``other``'s.
    So ``apply(apply(d, a), transform(b, a, "right")) == apply(apply(d, b), transform(a, b,
    "left"))`` (convergence, TP1). Text deleted by both is deleted once."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    # Normalised first: an insert split in two would break a tie in two places.
    op, other = _normalized(op), _normalized(other)
    result = _Builder()
    # Inserts of `op` are never split: `other`'s components are measured on the document.
    reader = _Reader(op, split_inserts=False)
    for component in other:
        if isinstance(component, int):
            length = component
            while length > 0:
                piece = reader.take(length)
                result.add(piece)
                if not isinstance(piece, str):
                    length -= _pre_length(piece)
        elif isinstance(component, str):
            ahead = reader.peek()  # whole: this reader never splits an insert
            if side == "left" and isinstance(ahead, str):
                reader.take_rest()
                result.add(ahead)
            result.add(len(component))
        else:
            length = component["d"]
            while length > 0:
                piece = reader.take(length)
                if isinstance(piece, str):
                    result.add(piece)
                else:
                    length -= _pre_length(piece)
    while (rest := reader.take_rest()) is not None:
        result.add(rest)
    return result.build()


def compose(first: Op, second: Op) -> Op:
    """One op doing what ``first`` then ``second`` do: ``apply(apply(d, first), second) ==
    apply(d, compose(first, second))``.

    Do not transform against a composition instead of its parts: text-unicode's transform
    is not closed under compose (ties between inserts may then break otherwise)."""
    first, second = _normalized(first), _normalized(second)
    result = _Builder()
    # `second` walks the text `first` produced: `first`'s inserts split, its deletes not.
    reader = _Reader(first, split_inserts=True)
    for component in second:
        if isinstance(component, int):
            length = component
            while length > 0:
                piece = reader.take(length)
                result.add(piece)
                length -= _post_length(piece)
        elif isinstance(component, str):
            result.add(component)
        else:
            length = component["d"]
            while length > 0:
                piece = reader.take(length)
                if isinstance(piece, int):
                    result.add({"d": piece})  # deletes text that `first` kept
                elif isinstance(piece, str):
                    pass  # text `first` inserted and `second` deletes: never there
                else:
                    result.add(piece)  # `first`'s own delete passes through
                length -= _post_length(piece)
    while (rest := reader.take_rest()) is not None:
        result.add(rest)
    return result.build()


def transform_cursor(cursor: int, op: Op, is_own_op: bool = False) -> int:
    """Where the caret at ``cursor`` stands after ``op`` (text-unicode's transformPosition).

    Text inserted before the caret pushes it on; an insert right at the caret stays after
    it; a caret inside deleted text moves to where the deletion was. The author's own
    caret (``is_own_op``) goes to the end of what the op did, as the transformSelection of
    ShareDB's older ``text`` type does for one's own op."""
    _check_position("cursor", cursor)
    check(op)
    if is_own_op:
        return sum(_post_length(component) for component in op)
    position = 0
    for component in op:
        if cursor <= position:
            break
        if isinstance(component, int):
            position += component
        elif isinstance(component, str):
            position += len(component)
            cursor += len(component)
        else:
            cursor -= min(component["d"], cursor - position)
    return cursor


def transform_selection(selection: Selection, op: Op, is_own_op: bool = False) -> Selection:
    """``selection`` after ``op``: both ends move as carets do (`transform_cursor`), so text
    inserted at its start is taken in and at its end is left out. The author's own
    selection collapses to a caret at the end of what the op did."""
    index, length = selection["index"], selection["length"]
    _check_position("index", index)
    _check_position("length", length)
    start = transform_cursor(index, op, is_own_op)
    end = start if is_own_op else transform_cursor(index + length, op)
    return {"index": start, "length": end - start}


class _Reader:
    """Takes an op's components from the front, a piece at a time (text-unicode's
    ``makeTake``). Past the last component the op retains for ever."""

    def __init__(self, op: Op, *, split_inserts: bool) -> None:
        self._op = op
        self._split_inserts = split_inserts
        self._index = 0
        self._offset = 0  # into the current component

    def peek(self) -> Component | None:
        return self._op[self._index] if self._index < len(self._op) else None

    def take(self, most: int) -> Component:
        """The next piece, at most ``most`` long unless it is an insert read whole (or a
        delete, when inserts are split)."""
        if self._index == len(self._op):
            return most
        return self._piece(most)

    def take_rest(self) -> Component | None:
        """The rest of the current component; ``None`` past the end."""
        if self._index == len(self._op):
            return None
        return self._piece(None)

    def _piece(self, most: int | None) -> Component:
        component = self._op[self._index]
        start = self._offset
        if isinstance(component, int):
            whole, splits = component, True
        elif isinstance(component, str):
            whole, splits = len(component), self._split_inserts
        else:
            whole, splits = component["d"], not self._split_inserts
        if most is not None and splits and whole - start > most:
            self._offset += most
            end = self._offset
        else:
            self._index += 1
            self._offset = 0
            end = whole
        if isinstance(component, int):
            return end - start
        if isinstance(component, str):
            return component[start:end]
        return {"d": end - start}


def _pre_length(component: Component) -> int:
    """The code points ``component`` walks over in the document it applies to."""
    if isinstance(component, int):
        return component
    return 0 if isinstance(component, str) else component["d"]


def _post_length(component: Component) -> int:
    """The code points ``component`` leaves in the document it makes."""
    if isinstance(component, int):
        return component
    return len(component) if isinstance(component, str) else 0


class _Builder:
    """Makes a normalised op from pieces: adjacent pieces of one kind merged, no trailing
    retain. Text is joined once, at a change of kind, so many small inserts stay linear."""

    def __init__(self) -> None:
        self._op: Op = []
        self._text: list[str] = []

    def add(self, component: Component) -> None:
        if isinstance(component, str):
            self._text.append(component)
            return
        self._flush_text()
        last = self._op[-1] if self._op else None
        if isinstance(component, int):
            if isinstance(last, int):
                self._op[-1] = last + component
            else:
                self._op.append(component)
        elif isinstance(last, dict):
            self._op[-1] = {"d": last["d"] + component["d"]}
        else:
            self._op.append({"d": component["d"]})  # a copy: the ops given stay as they were

    def build(self) -> Op:
        self._flush_text()
        if self._op and isinstance(self._op[-1], int):
            self._op.pop()
        return self._op

    def _flush_text(self) -> None:
        if self._text:
            self._op.append("".join(self._text))
            self._text = []


def _check_position(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOp(field, "must be a whole number from 0")
