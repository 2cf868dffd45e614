// Chronicle console: live parts over Server-Sent Events, and the replay of a run.
// Each element with data-stream="<url>" follows that stream; the server sends HTML it
// has rendered and escaped ("append" adds at the end, "prepend" at the top, "replace"
// swaps the content), so nothing here builds markup from data. data-keep bounds how many
// children stay.
"use strict";

const replaying = new WeakMap(); // element -> the HTML that arrived during its replay

function follow(target) {
  const status = document.querySelector("[data-stream-status]");
  const keep = Number(target.dataset.keep || 0);
  const source = new EventSource(target.dataset.stream);
  const say = (text) => { if (status) status.textContent = text; };
  const trim = (fromTop) => {
    while (keep && target.children.length > keep) {
      (fromTop ? target.firstElementChild : target.lastElementChild).remove();
    }
  };
  source.addEventListener("open", () => say("Following live."));
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) return say("Reconnecting…");
    // Refused for good: signed out (or the key revoked) goes to the sign-in form.
    say("The live stream was refused; reload the page to try again.");
    fetch(window.location.href).then((page) => {
      if (new URL(page.url).pathname === "/console/login") window.location.assign(page.url);
    });
  });
  source.addEventListener("append", (event) => {
    target.insertAdjacentHTML("beforeend", event.data);
    trim(true);
    target.lastElementChild?.scrollIntoView({ block: "nearest" });
  });
  source.addEventListener("prepend", (event) => {
    target.insertAdjacentHTML("afterbegin", event.data);
    trim(false);
  });
  source.addEventListener("replace", (event) => {
    if (replaying.has(target)) replaying.set(target, event.data);
    else target.innerHTML = event.data;
  });
  source.addEventListener("resync", () => { source.close(); window.location.reload(); });
  window.addEventListener("pagehide", () => source.close());
}

// A run's replay: its steps hidden, then shown one after another, each after the time
// it took (at most 1.5 s), or one at a time with "Next step".
function replay(control) {
  const target = document.querySelector(control.dataset.replay);
  const status = control.querySelector("[data-replay-status]");
  let timer = null;
  const steps = () => [...target.querySelectorAll("[data-steps] > li[data-offset-ms]")];
  const hidden = () => steps().filter((step) => step.hidden);
  const say = () => {
    const all = steps().length;
    status.textContent = `Step ${all - hidden().length} of ${all}`;
  };
  const finish = () => {
    clearTimeout(timer);
    timer = null;
    steps().forEach((step) => { step.hidden = false; });
    const arrived = replaying.get(target);
    replaying.delete(target);
    if (arrived) target.innerHTML = arrived;
    status.textContent = "Replay done.";
  };
  const begin = () => {
    clearTimeout(timer);
    if (!replaying.has(target)) replaying.set(target, null);
    steps().forEach((step) => { step.hidden = true; });
  };
  const next = () => {
    const [step, following] = hidden();
    if (!step) return finish();
    step.hidden = false;
    say();
    if (!following) return finish();
    return Number(following.dataset.offsetMs) - Number(step.dataset.offsetMs);
  };
  const play = () => {
    const gap = next();
    if (typeof gap === "number") timer = setTimeout(play, Math.min(1500, Math.max(120, gap)));
  };
  control.querySelector("[data-replay-play]").addEventListener("click", () => { begin(); play(); });
  control.querySelector("[data-replay-step]").addEventListener("click", () => {
    clearTimeout(timer);
    if (!replaying.has(target) || !hidden().length) begin();
    next();
  });
  control.querySelector("[data-replay-all]").addEventListener("click", finish);
}

document.querySelectorAll("[data-stream]").forEach(follow);
document.querySelectorAll("[data-replay]").forEach(replay);
