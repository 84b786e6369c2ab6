// The audit trail of one ticket from GET /api/v1/centers/{center}/audit, searched by day and
// number; ?center=&day=&number= in the address searches at once (the supervisor page links
// here that way). CSV of the same trail.
"use strict";

(() => {
  const { $, get, download, seconds, el, today } = QMS;
  const TYPES = {
    issued: "Lấy số / Issued", checked_in: "Đã đến / Checked in", called: "Gọi / Called",
    recalled: "Gọi lại / Recalled", started: "Bắt đầu / Started", completed: "Hoàn thành / Completed",
    no_show: "Vắng mặt / No-show", transferred: "Chuyển / Transferred", cancelled: "Hủy / Cancelled",
    rated: "Đánh giá / Rated", expired: "Hết hạn / Expired",
  };
  const COLUMNS = [["at_local", "Thời điểm", "Time"], ["type", "Sự kiện", "Event"],
    ["status", "Trạng thái", "Status"], ["counter", "Quầy", "Counter"],
    ["staff", "Cán bộ", "Staff"], ["actor", "Người thực hiện", "Actor"],
    ["origin", "Từ địa chỉ", "From address"], ["info", "Chi tiết", "Details"]];

  const query = () => ({ day: $("day").value, number: $("number").value.trim() });

  async function search(event) {
    event?.preventDefault();
    const center = $("center").value;
    $("status").textContent = "Đang tìm… / Searching…";
    $("csv").disabled = true;
    try {
      const trail = await get(`/api/v1/centers/${encodeURIComponent(center)}/audit`, query());
      const t = trail.ticket;
      $("ticket").replaceChildren(...(t ? [
        ["Số / Number", t.number], ["Dịch vụ / Service", t.service],
        ["Trạng thái / Status", t.status], ["Chờ / Wait", seconds(t.wait_ms == null ? null : t.wait_ms / 1000)],
        ["Phục vụ / Service time", seconds(t.service_ms == null ? null : t.service_ms / 1000)],
        ["Đánh giá / Rating", t.rating ?? "–"],
        ["Chuyển từ / From", t.from_ticket || "–"], ["Chuyển đến / To", t.to_ticket || "–"],
      ] : []).map(([name, value]) => el("div", { class: "tile" }, el("span", {}, name),
        el("strong", {}, value))));
      const head = el("tr", {}, ...COLUMNS.map(([, vi, en], i) =>
        el("th", { class: i < 3 ? "text" : null }, vi, el("span", { class: "en" }, en))));
      const rows = trail.events.map((e) => el("tr", {}, ...COLUMNS.map(([key]) => {
        let value = e[key];
        if (key === "type") value = TYPES[value] || value;
        if (key === "info") value = Object.keys(value || {}).length ? JSON.stringify(value) : "";
        return el("td", { class: "text" }, value ?? "");
      })));
      $("events").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
      $("status").textContent = `${trail.events.length} sự kiện / events`;
      $("csv").disabled = false;
      document.body.dataset.ready = "1";
    } catch (error) {
      $("ticket").replaceChildren(); $("events").replaceChildren();
      $("status").textContent = error.message;
    }
  }

  async function start(login) {
    const centers = await get("/api/v1/centers");
    $("center").replaceChildren(...centers
      .filter((c) => login.role === "province" || c.id === login.center)
      .map((c) => el("option", { value: c.id }, `${c.name} (${c.id})`)));
    const asked = new URLSearchParams(location.search);
    if (asked.get("center")) $("center").value = asked.get("center");
    $("day").value = asked.get("day") || $("day").value || today();
    if (asked.get("number")) { $("number").value = asked.get("number"); await search(); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("search").addEventListener("submit", search);
    $("csv").addEventListener("click", () => download(
      `/api/v1/centers/${encodeURIComponent($("center").value)}/audit`,
      { ...query(), format: "csv" }, `nhat-ky-audit-${query().number}.csv`)
      .catch((error) => { $("status").textContent = error.message; }));
    QMS.guard((login) => start(login).catch((error) => { $("status").textContent = error.message; }));
  });
})();
