// Chronicle console: live parts over Server-Sent Events. Each element with
// data-stream="<url>" follows that stream; the server sends HTML fragments it has
// rendered and escaped ("append" adds at the end, "prepend" at the top), so nothing here
// builds markup from data. data-keep bounds how many children stay.
"use strict";

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
  source.addEventListener("error", () => say("Reconnecting…"));
  source.addEventListener("append", (event) => {
    target.insertAdjacentHTML("beforeend", event.data);
    trim(true);
    target.lastElementChild?.scrollIntoView({ block: "nearest" });
  });
  source.addEventListener("prepend", (event) => {
    target.insertAdjacentHTML("afterbegin", event.data);
    trim(false);
  });
  source.addEventListener("resync", () => { source.close(); window.location.reload(); });
  window.addEventListener("pagehide", () => source.close());
}

document.querySelectorAll("[data-stream]").forEach(follow);
