// The API documentation page (/api/docs): each operation's form sends its request and shows the answer.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  for (const form of document.querySelectorAll("form.api-try")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const out = form.querySelector(".api-answer");
      let path = form.dataset.path;
      const query = new URLSearchParams();
      for (const input of form.querySelectorAll("input[data-in]")) {
        if (input.dataset.in === "path") path = path.replace(`{${input.name}}`, encodeURIComponent(input.value));
        else if (input.value !== "") query.append(input.name, input.value);
      }
      const headers = {"Accept": "application/json"};
      const token = document.getElementById("api-token").value.trim();
      if (token) headers["Authorization"] = `Bearer ${token}`;
      else if (csrf) headers["X-CSRF-Token"] = csrf;
      const options = {method: form.dataset.method, headers, credentials: token ? "omit" : "same-origin"};
      const body = form.querySelector("textarea[name=__body]");
      if (body) {
        headers["Content-Type"] = "application/json";
        options.body = body.value;
      }
      const url = path + (query.toString() ? `?${query}` : "");
      out.hidden = false;
      out.textContent = `${form.dataset.method} ${url} …`;
      try {
        const response = await fetch(url, options);
        const text = await response.text();
        let shown = text;
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
        out.textContent = `${response.status} ${response.statusText}\n${shown}`;
        out.dataset.status = String(response.status);
      } catch (e) {
        out.textContent = `the request failed: ${e}`;
      }
    });
  }
});
