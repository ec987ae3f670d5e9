// A real OpenID Provider for selfheal's sign-in tests: the certified `oidc-provider`, on
// 127.0.0.1 over plain http (tests only), with a login form of its own, consent granted without
// asking, and two switches for the tests:
//   POST /test/accounts  [{sub, username, password, email, name, groups}]  replaces the accounts
//   POST /test/tamper    {"id_token": "signature"|"audience"|"expired"|"nonce"|null}
//                        makes the token endpoint's ID tokens wrong that way (re-signed with the
//                        provider's own key, so only the named check can catch it)
// Started as `node provider.mjs CONFIG.json` (port, issuer, clients, accounts); prints
// "oidc-provider listening on ISSUER" when ready.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { generateKeyPair, exportJWK, SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let accounts = config.accounts;
let tamper = null;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(config.issuer, {
  clients: config.clients.map((c) => ({
    ...c,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: ['selfheal-test-cookie-key'] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    groups: ['groups'],
  },
  // The groups in the ID token itself, as Keycloak, Okta and Entra can be set to do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // The provider's own "log out?" question answered yes, so the browser returns at once.
      logoutSource: async (ctx, form) => {
        const yes = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
        ctx.body = `<!DOCTYPE html><html><body>${yes}<script>document.forms[0].submit()</script></body></html>`;
      },
    },
  },
  // A refresh token to every client allowed one (selfheal reads groups again with it).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: async (ctx, sub) => {
    const account = accounts.find((a) => a.sub === sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        preferred_username: account.username,
        email: account.email,
        name: account.name,
        groups: account.groups,
      }),
    };
  },
  // Consent is the organisation's, not the user's: every scope and claim granted.
  loadExistingGrant: async (ctx) => {
    const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) {
      const grant = await ctx.oidc.provider.Grant.find(existing);
      if (grant) return grant;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid offline_access profile email groups');
    grant.addOIDCClaims(['sub', 'name', 'preferred_username', 'email', 'groups']);
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><body><h1>error</h1><pre>${escape(JSON.stringify(out))}</pre></body></html>`;
  },
});
provider.proxy = false;

function loginPage(uid, message) {
  return `<!DOCTYPE html><html><head><title>Test IdP sign-in</title></head><body>
<h1>Test IdP</h1>${message ? `<p id="message">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>User <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button id="submit" type="submit">Sign in</button>
</form></body></html>`;
}

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

// The ID token made wrong the way the test asked, signed by the provider's key (or not).
async function tampered(idToken) {
  if (tamper === 'signature') {
    const [h, p, s] = idToken.split('.');
    return `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
  }
  const claims = decodeJwt(idToken);
  const header = decodeProtectedHeader(idToken);
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'audience') claims.aud = 'another-client';
  if (tamper === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  if (tamper === 'nonce') claims.nonce = 'a-nonce-of-another-sign-in';
  return new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
}

const callback = provider.callback();

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, config.issuer);
    if (req.method === 'POST' && url.pathname === '/test/accounts') {
      accounts = JSON.parse(await body(req));
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/test/tamper') {
      tamper = JSON.parse(await body(req)).id_token ?? null;
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const login = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (login) {
      const details = await provider.interactionDetails(req, res);
      if (!login[2]) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(details.uid));
        return;
      }
      const form = new URLSearchParams(await body(req));
      const account = accounts.find((a) => a.username === form.get('login') && a.password === form.get('password'));
      if (!account) {
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end(loginPage(details.uid, 'wrong user name or password'));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
      return;
    }
    if (tamper && req.method === 'POST' && url.pathname === '/token') {
      // Rewrite the token endpoint's JSON answer on its way out.
      const write = res.write.bind(res);
      const end = res.end.bind(res);
      const parts = [];
      res.write = (chunk) => {
        parts.push(Buffer.from(chunk));
        return true;
      };
      res.end = (chunk) => {
        if (chunk) parts.push(Buffer.from(chunk));
        const text = Buffer.concat(parts).toString('utf8');
        let answer;
        try {
          answer = JSON.parse(text);
        } catch {
          end(text);
          return res;
        }
        if (!answer.id_token) {
          end(text);
          return res;
        }
        tampered(answer.id_token).then((idToken) => {
          const out = JSON.stringify({ ...answer, id_token: idToken });
          res.removeHeader('content-length');
          res.setHeader('content-length', Buffer.byteLength(out));
          write(out);
          end();
        });
        return res;
      };
    }
    callback(req, res);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e?.stack ?? e));
  }
});

server.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
