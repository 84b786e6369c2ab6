// Reports over any period from GET /api/v1/reports: totals, four charts (Chart.js, vendored)
// and the table; CSV and XLSX downloads of the same report.
"use strict";

(() => {
  const { $, get, download, seconds, share, number, today, el } = QMS;
  const COLUMNS = [
    ["tickets", "Số phiếu", "Tickets"], ["served", "Đã phục vụ", "Served"],
    ["no_shows", "Vắng mặt", "No-shows"], ["transfers", "Chuyển", "Transfers"],
    ["cancellations", "Hủy", "Cancelled"], ["expirations", "Hết hạn", "Expired"],
    ["wait_mean_s", "Chờ TB", "Mean wait"], ["wait_median_s", "Chờ trung vị", "Median wait"],
    ["wait_p90_s", "Chờ P90", "P90 wait"], ["within_target_share", "Trong mục tiêu", "Within target"],
    ["service_mean_s", "Phục vụ TB", "Mean service"], ["rating_mean", "Đánh giá TB", "Mean rating"],
    ["satisfied_share", "Hài lòng", "Satisfied"],
  ];
  const TILES = ["tickets", "served", "wait_median_s", "wait_p90_s", "within_target_share",
                 "satisfied_share"];
  const charts = {};
  let login = null;

  function show(key, value) {
    if (key.endsWith("_share")) return share(value);
    if (key.endsWith("_s")) return seconds(value);
    return number(value);
  }

  function params(format) {
    const period = $("period").value;
    const out = { period, by: $("by").value, service: $("service").value, format };
    if (period === "range") { out.from = $("from").value; out.to = $("to").value; }
    else out.date = $("date").value;
    if ($("center").value) out.center = $("center").value;
    return out;
  }

  function label(row, by) {
    return row[`${by}_name`] || row[by] || "";
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart($(id), { ...config, options: { responsive: true,
      maintainAspectRatio: false, animation: false, ...(config.options || {}) } });
  }

  function render(report, series) {
    const by = report.by[0];
    $("tiles").replaceChildren(...TILES.map((key) => {
      const [, vi, en] = COLUMNS.find((c) => c[0] === key);
      return el("div", { class: "tile" }, el("span", {}, `${vi} / ${en}`),
                el("strong", {}, show(key, report.total[key])));
    }));
    const labels = report.rows.map((row) => label(row, by));
    draw("chart-tickets", { type: "bar", data: { labels, datasets: [
      { label: "Số phiếu / Tickets", data: report.rows.map((r) => r.tickets) },
      { label: "Đã phục vụ / Served", data: report.rows.map((r) => r.served) }] } });
    const minutes = (v) => (v == null ? null : v / 60);
    draw("chart-waits", { type: "bar", data: { labels, datasets: [
      { label: "Trung vị / Median", data: report.rows.map((r) => minutes(r.wait_median_s)) },
      { label: "P90", data: report.rows.map((r) => minutes(r.wait_p90_s)) }] } });
    draw("chart-time", { type: "line", data: { labels: series.rows.map((r) => r[series.by[0]]),
      datasets: [{ label: "Số phiếu / Tickets", data: series.rows.map((r) => r.tickets) }] } });
    draw("chart-ratings", { type: "doughnut", data: {
      labels: ["1", "2", "3", "4", "5"].map((l) => `Mức ${l} / Level ${l}`),
      datasets: [{ data: [1, 2, 3, 4, 5].map((l) => report.total[`rating_${l}`]) }] } });
    const head = el("tr", {}, el("th", { class: "text" }, $("by").selectedOptions[0]?.textContent || by),
      ...COLUMNS.map(([, vi, en]) => el("th", {}, vi, el("span", { class: "en" }, en))));
    const body = report.rows.map((row) => el("tr", {}, el("td", {}, label(row, by) || "–"),
      ...COLUMNS.map(([key]) => el("td", {}, show(key, row[key])))));
    const total = el("tr", { class: "total" }, el("td", {}, "Tổng / Total"),
      ...COLUMNS.map(([key]) => el("td", {}, show(key, report.total[key]))));
    $("table").replaceChildren(el("thead", {}, head), el("tbody", {}, ...body, total));
  }

  async function run(event) {
    event?.preventDefault();
    $("status").textContent = "Đang tính… / Computing…";
    try {
      const chosen = params("json");
      const long = ["quarter", "year"].includes(chosen.period) || chosen.period === "range";
      const [report, series] = await Promise.all([
        get("/api/v1/reports", chosen),
        get("/api/v1/reports", { ...chosen, by: long ? "month" : "day", format: "json" }),
      ]);
      render(report, series);
      $("status").textContent = `${report.period.from} – ${report.period.to} · ` +
        `${report.centers.length} trung tâm / centers`;
      document.body.dataset.ready = "1";
    } catch (error) {
      $("status").textContent = error.message;
      $("status").classList.add("error");
      return;
    }
    $("status").classList.remove("error");
  }

  async function start(current) {
    login = current;
    $("date").value = $("date").value || today();
    const [centers, catalog] = await Promise.all([get("/api/v1/centers"), get("/api/v1/services")]);
    const options = login.role === "province"
      ? [el("option", { value: "" }, "Toàn tỉnh / Whole province")] : [];
    for (const c of centers) {
      if (login.role === "province" || c.id === login.center) {
        options.push(el("option", { value: c.id }, `${c.name} (${c.id})`));
      }
    }
    $("center").replaceChildren(...options);
    if (login.role !== "province") $("by").value = "service";
    $("service").replaceChildren(el("option", { value: "" }, "Tất cả / All"),
      ...catalog.services.map((s) => el("option", { value: s.id }, s.name)));
    await run();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("period").addEventListener("change", () => {
      const range = $("period").value === "range";
      $("date-field").hidden = range; $("from-field").hidden = !range; $("to-field").hidden = !range;
    });
    $("controls").addEventListener("submit", run);
    for (const format of ["csv", "xlsx"]) {
      $(format).addEventListener("click", () => download("/api/v1/reports", params(format),
        `bao-cao-report.${format}`).catch((error) => { $("status").textContent = error.message; }));
    }
    QMS.guard((current) => start(current).catch((error) => {
      $("status").textContent = error.message;
    }));
  });
})();
