// The console's little JavaScript: load a series' figure on demand, prefill the override form.
"use strict";

async function showPlot(button) {
  const target = document.getElementById("plot");
  document.getElementById("plot-title").textContent = "Plot: " + button.dataset.name;
  target.textContent = "Loading…";
  const response = await fetch(button.dataset.url, { credentials: "same-origin" });
  if (!response.ok) {
    target.textContent = "Could not load the plot (" + response.status + ").";
    return;
  }
  const figure = await response.json();
  target.textContent = "";
  await Plotly.newPlot(target, figure.data, figure.layout, { responsive: true });
}

const plotButtons = document.querySelectorAll(".plot-button");
plotButtons.forEach((button) => {
  button.addEventListener("click", () => showPlot(button));
});
if (plotButtons.length) showPlot(plotButtons[0]);

document.querySelectorAll(".fill-override").forEach((button) => {
  button.addEventListener("click", () => {
    const form = document.getElementById("override");
    form.prediction_id.value = button.dataset.id;
    form.vector.value = button.dataset.vector;
    form.metric.value = button.dataset.metric;
    form.level.value = button.dataset.level;
    form.value.value = button.dataset.value;
    form.reason.focus();
  });
});
