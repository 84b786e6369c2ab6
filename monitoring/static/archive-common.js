// Shared by the report and audit pages: the saved login (a supervisor's from /supervisor is
// used too), requests with problem+json errors, downloads that carry the login, formatting.
// Vietnamese first, English second.
"use strict";

const QMS = (() => {
  const KEY = "qms.reports";
  const REUSED = ["qms.reports", "qms.supervisor"];   // logins saved by the supervisor page
  const $ = (id) => document.getElementById(id);

  function saved() {
    for (const key of REUSED) {
      try {
        const data = JSON.parse(localStorage.getItem(key) || "null");
        if (data?.token && (!data.expiresAt || Date.now() < data.expiresAt) &&
            (data.role === "supervisor" || data.role === "province")) return data;
      } catch (_) { /* a malformed entry is no login */ }
    }
    return null;
  }

  async function login(username, password) {
    const response = await fetch("/api/v1/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username, password }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || "Đăng nhập không thành công. / Login failed.");
    if (body.role !== "supervisor" && body.role !== "province") {
      throw new Error("Cần tài khoản giám sát trung tâm hoặc cấp tỉnh. / " +
                      "A supervisor or province account is needed.");
    }
    const data = { token: body.token, role: body.role, center: body.center, name: body.name,
                   expiresAt: Date.now() + (body.expires_in || 0) * 1000 };
    localStorage.setItem(KEY, JSON.stringify(data));
    return data;
  }

  function logout() { localStorage.removeItem(KEY); }

  async function get(path, params, as = "json") {
    const login = saved();
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(params || {})) {
      for (const one of [].concat(value)) if (one !== "" && one != null) url.searchParams.append(name, one);
    }
    const headers = { Accept: as === "json" ? "application/json" : "*/*" };
    if (login) headers.Authorization = `Bearer ${login.token}`;
    let response;
    try { response = await fetch(url, { headers }); } catch (_) {
      throw new Error("Không kết nối được máy chủ. / The server cannot be reached.");
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      const error = new Error(problem.detail || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return as === "json" ? response.json() : response.blob();
  }

  async function download(path, params, name) {
    const blob = await get(path, params, "blob");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  function seconds(value) {
    if (value == null) return "–";
    const whole = Math.round(value);
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    return h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`
      : `${m}:${String(s).padStart(2, "0")}`;
  }
  const share = (v) => (v == null ? "–" : `${(v * 100).toFixed(1).replace(".", ",")} %`);
  const number = (v) => (v == null ? "–" : typeof v === "number" && !Number.isInteger(v)
    ? v.toFixed(2).replace(".", ",") : String(v));
  const today = () => new Date(Date.now() + 7 * 3600 * 1000).toISOString().slice(0, 10);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (name === "class") node.className = value; else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  }

  // The login form shared by both pages: calls `ready(login)` once someone is logged in.
  function guard(ready) {
    const form = $("login-form");
    const show = (message) => {
      $("login").hidden = false; $("page").hidden = true;
      $("login-error").hidden = !message; $("login-error").textContent = message || "";
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const data = await login($("username").value.trim(), $("password").value);
        $("password").value = "";
        $("login").hidden = true; $("page").hidden = false;
        ready(data);
      } catch (error) { show(error.message); }
    });
    $("logout").addEventListener("click", () => { logout(); show(""); });
    const current = saved();
    if (current) { $("login").hidden = true; $("page").hidden = false; ready(current); }
    else show("");
    return show;
  }

  return { $, saved, get, download, seconds, share, number, today, el, guard };
})();
