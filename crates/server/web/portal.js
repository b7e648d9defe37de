// The customer portal's one script: while a customer writes a new request, the help
// centre's articles that match it are suggested beside the form (deflection at the moment
// of contact). The page works without it — the same suggestions are shown when the form
// is first sent. Text only (no HTML is built from answers); asks the portal's own
// `suggest` address, at most once per pause in typing.
(() => {
  const form = document.querySelector("form[data-suggest]");
  if (!form) return;
  const box = document.getElementById("live-suggest");
  const subject = form.querySelector("#subject"), body = form.querySelector("#body");
  let timer = 0, asked = "";
  const show = (hits) => {
    box.replaceChildren();
    if (!hits.length) { box.hidden = true; return; }
    const p = document.createElement("p");
    p.textContent = form.dataset.heading;
    const ul = document.createElement("ul");
    for (const h of hits) {
      const li = document.createElement("li"), a = document.createElement("a");
      a.href = h.url; a.textContent = h.title; a.target = "_blank"; a.rel = "noopener";
      li.append(a); ul.append(li);
    }
    box.append(p, ul);
    box.hidden = false;
  };
  const ask = async () => {
    const q = `${subject.value} ${body.value}`.trim().slice(0, 200);
    if (q === asked) return;
    asked = q;
    if (q.length < 3) { show([]); return; }
    try {
      const r = await fetch(`${form.dataset.suggest}&q=${encodeURIComponent(q)}`, { credentials: "same-origin" });
      if (r.ok && q === asked) show((await r.json()).hits || []);
    } catch (_) { /* the form still works */ }
  };
  for (const f of [subject, body]) f.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 350); });
})();
