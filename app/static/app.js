// Demo page: uses only the public API (/models, /corrupt, /denoise, /compare).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { original: null, noisy: null, clean: null };

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function status(message) { $("status").textContent = message; }

async function apiError(response) {
  try {
    const body = await response.json();
    return `${body.detail} (${body.error}, HTTP ${response.status})`;
  } catch (_) {
    return `HTTP ${response.status}`;
  }
}

function show(imgId, linkId, blob) {
  const url = URL.createObjectURL(blob);
  $(imgId).src = url;
  if (linkId) { $(linkId).href = url; $(linkId).hidden = false; }
  return url;
}

function setBusy(busy) {
  $("corrupt").disabled = busy || !state.original;
  $("denoise").disabled = busy || !(state.noisy || state.original);
}

async function loadModels() {
  try {
    const response = await fetch("/models");
    if (!response.ok) throw new Error(await apiError(response));
    const body = await response.json();
    // An int8 twin that answers for its float model (runs_as) is listed once, under the float name.
    const twins = new Set(body.models.map((model) => model.runs_as).filter(Boolean));
    for (const model of body.models.filter((model) => !twins.has(model.name))) {
      const label = model.name + (model.name === body.default ? " (default)" : "") + (model.runs_as ? ", int8 on this CPU" : "");
      const option = new Option(label, model.name);
      option.selected = model.name === body.default;
      $("model").add(option);
    }
    // Not a model: the default's output, or that of the model X-Try-Model would name where the default leaves
    // the impulses alone (app.pipeline.denoise_auto; the default is not run where it cannot take them).
    $("model").add(new Option("auto: the default, or the model for what it would leave", "auto"));
  } catch (error) {
    showError(`Could not list the models: ${error.message}`);
  }
}

function choose(file) {
  if (!file) return;
  showError("");
  state.original = file;
  state.noisy = null;
  state.clean = null;
  show("original-img", "original-dl", file);
  $("original-dl").download = file.name;
  for (const id of ["noisy-img", "clean-img", "before-img"]) $(id).removeAttribute("src");
  for (const id of ["noisy-dl", "clean-dl"]) $(id).hidden = true;
  for (const id of ["noisy-score", "clean-score", "timing"]) $(id).textContent = "";
  status(`Loaded ${file.name}.`);
  setBusy(false);
}

async function scores(reference, image) {
  const form = new FormData();
  form.append("reference", reference, "reference");
  form.append("image", image, "image.png");
  const response = await fetch("/compare", { method: "POST", body: form });
  if (!response.ok) throw new Error(await apiError(response));
  const body = await response.json();
  return body.identical ? `identical, SSIM ${body.ssim.toFixed(4)}` : `PSNR ${body.psnr.toFixed(2)} dB, SSIM ${body.ssim.toFixed(4)}`;
}

async function corrupt() {
  showError("");
  setBusy(true);
  status("Adding noise...");
  try {
    const form = new FormData();
    form.append("file", state.original);
    form.append("density", $("density").value);
    form.append("salt_ratio", $("salt").value);
    form.append("per_channel", $("per-channel").checked ? "true" : "false");
    form.append("noise", $("noise").value);
    form.append("spread", $("spread").value);
    if ($("jpeg").value !== "") form.append("jpeg_quality", $("jpeg").value);
    if ($("seed").value !== "") form.append("seed", $("seed").value);
    const response = await fetch("/corrupt", { method: "POST", body: form });
    if (!response.ok) throw new Error(await apiError(response));
    state.noisy = await response.blob();
    state.clean = null;
    show("noisy-img", "noisy-dl", state.noisy);
    $("clean-img").removeAttribute("src");
    $("clean-dl").hidden = true;
    $("clean-score").textContent = "";
    $("timing").textContent = "";
    $("noisy-score").textContent = await scores(state.original, state.noisy);
    const jpeg = $("jpeg").value === "" ? "" : `, then JPEG quality ${$("jpeg").value}`;
    status(`Noise added (${response.headers.get("X-Noise-Kind")}, density ${$("density").value}${jpeg}, seed ${response.headers.get("X-Seed")}).`);
  } catch (error) {
    showError(error.message);
    status("");
  } finally {
    setBusy(false);
  }
}

async function denoise() {
  showError("");
  setBusy(true);
  status("Removing noise...");
  const input = state.noisy || state.original;
  try {
    const form = new FormData();
    form.append("file", input, "upload");
    form.append("model", $("model").value);
    form.append("ensemble", $("ensemble").checked ? "8" : "1");
    const response = await fetch("/denoise", { method: "POST", body: form });
    if (!response.ok) throw new Error(await apiError(response));
    state.clean = await response.blob();
    show("clean-img", "clean-dl", state.clean);
    show("before-img", null, input);
    syncSwipe();
    const ms = Number(response.headers.get("X-Inference-Ms"));
    const ensemble = response.headers.get("X-Ensemble") === "1" ? "" : ` x${response.headers.get("X-Ensemble")}`;
    const changed = 100 * Number(response.headers.get("X-Changed-Fraction"));
    const ran = response.headers.get("X-Models-Run");  // model=auto: every model it ran, in order
    const used = response.headers.get("X-Model");  // with two runs, whose output it is (app.pipeline.runs_text)
    const runs = ran ? ran.split(", ") : [];
    const model = ran ? `auto: ${runs.join(" then ")}${runs.length > 1 ? `, output of ${used}` : ""}` : used;
    $("timing").textContent = `${model}${ensemble}: ${ms.toFixed(0)} ms on ${response.headers.get("X-Provider").replace("ExecutionProvider", "")}, changed ${changed.toFixed(1)}% of the values`;
    $("clean-score").textContent = state.noisy ? await scores(state.original, state.clean) : "";
    status(leftAloneHint(response) || "Done.");
  } catch (error) {
    showError(error.message);
    status("");
  } finally {
    setBusy(false);
  }
}

// X-Try-Model: the model left most of what the upload's estimate calls impulses alone (or could not restore
// them: the switching default, on a JPEG file or on impulses of other values), and the service has one for
// them (app.pipeline).
function leftAloneHint(response) {
  const suggestion = response.headers.get("X-Try-Model");
  if (!suggestion) return "";
  const percent = (name) => `${(100 * Number(response.headers.get(name))).toFixed(1)}%`;
  return `${response.headers.get("X-Model")} changed ${percent("X-Changed-Fraction")} of the values, and about ` +
    `${percent("X-Impulse-Fraction")} look like impulses. If this photo's noise was saved as JPEG, or its ` +
    `impulses are not exactly 0/255, choose ${suggestion}.`;
}

function syncSwipe() {
  const width = $("clean-img").clientWidth;
  $("before-img").style.width = `${width}px`;
  $("before").style.width = `${$("swipe-range").value}%`;
}

$("file").addEventListener("change", (event) => choose(event.target.files[0]));
const drop = $("drop");
for (const name of ["dragenter", "dragover"]) drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
for (const name of ["dragleave", "drop"]) drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("over"); });
drop.addEventListener("drop", (e) => choose(e.dataTransfer.files[0]));
$("density").addEventListener("input", () => { $("density-value").textContent = Number($("density").value).toFixed(2); });
$("salt").addEventListener("input", () => { $("salt-value").textContent = Number($("salt").value).toFixed(2); });
$("spread").addEventListener("input", () => { $("spread-value").textContent = $("spread").value; });
$("noise").addEventListener("change", () => {
  const ranged = $("noise").value === "impulse-range";  // the spread only means something there
  $("spread").hidden = !ranged;
  $("spread-label").hidden = !ranged;
});
$("corrupt").addEventListener("click", corrupt);
$("denoise").addEventListener("click", denoise);
$("swipe-range").addEventListener("input", syncSwipe);
window.addEventListener("resize", syncSwipe);
$("clean-img").addEventListener("load", syncSwipe);
loadModels();
