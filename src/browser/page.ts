/**
 * The example app's browser page: plain HTML and a few lines of script, no build step. It never
 * sees a token: the tokens are httpOnly cookies; it reads only the CSRF cookie and sends it back.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>nest-jwt-rotation: browser example</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
  button,input{font:inherit;margin:.2rem}pre{background:#f4f4f4;padding:1rem;white-space:pre-wrap}</style>
</head>
<body>
  <h1>Signed in with cookies</h1>
  <form id="login">
    <input name="username" placeholder="username" value="alice" autocomplete="username">
    <input name="password" type="password" placeholder="password" value="alice-password" autocomplete="current-password">
    <button id="login-button">Log in</button>
  </form>
  <p>
    <button id="whoami">Who am I</button>
    <button id="refresh">Refresh</button>
    <button id="sessions">My sessions</button>
    <button id="logout">Log out</button>
  </p>
  <p id="status">Not signed in</p>
  <pre id="out"></pre>
  <script src="/app.js"></script>
</body>
</html>
`;

/** `__CSRF_COOKIE__` and `__CSRF_HEADER__` are filled in from the module's cookie options. */
export const PAGE_SCRIPT = `'use strict';
const CSRF_COOKIE = '__CSRF_COOKIE__';
const CSRF_HEADER = '__CSRF_HEADER__';
const out = document.getElementById('out');
const status = document.getElementById('status');
const show = (value) => { out.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2); };
const csrf = () => (document.cookie.split('; ').find((c) => c.startsWith(CSRF_COOKIE + '=')) || '').slice(CSRF_COOKIE.length + 1);

async function call(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (method !== 'GET') headers[CSRF_HEADER] = csrf();
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body), credentials: 'same-origin' });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function refresh() {
  const answer = await call('POST', '/auth/cookie/refresh');
  status.textContent = answer.status === 200 ? 'Refreshed' : 'Not signed in';
  return answer.status === 200;
}

/** An authenticated call; an expired access cookie is refreshed once, without the user noticing. */
async function authenticated(method, path) {
  let answer = await call(method, path);
  if (answer.status === 401 && (await refresh())) answer = await call(method, path);
  return answer;
}

document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const answer = await call('POST', '/auth/cookie/login', { username: form.get('username'), password: form.get('password') });
  status.textContent = answer.status === 200 ? 'Signed in' : 'Login failed';
  show(answer.body);
});
document.getElementById('whoami').addEventListener('click', async () => {
  const answer = await authenticated('GET', '/me');
  status.textContent = answer.status === 200 ? 'Signed in as ' + answer.body.sub : 'Not signed in';
  show(answer.body);
});
document.getElementById('refresh').addEventListener('click', async () => show((await refresh()) ? 'refreshed' : 'refresh failed'));
document.getElementById('sessions').addEventListener('click', async () => show((await authenticated('GET', '/auth/sessions')).body));
document.getElementById('logout').addEventListener('click', async () => {
  const answer = await call('POST', '/auth/cookie/logout');
  status.textContent = answer.status === 204 ? 'Signed out' : 'Logout failed';
  show(answer.status === 204 ? 'signed out' : answer.body);
});
`;
