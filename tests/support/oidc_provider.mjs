// A real OpenID Connect provider for the tests: the npm package oidc-provider (panva), pinned
// by tests/support/oidc.py, which installs it into a cache folder the tests own and starts this
// file there with node. Usage: node oidc_provider.mjs CONFIG.json
//
// CONFIG.json: {"issuer": "http://127.0.0.1:PORT", "port": PORT,
//               "clients": [{"client_id", "client_secret", "redirect_uris": [...]}],
//               "accounts": {"ACCOUNT-ID": {"email", "email_verified", "name", "groups"}}}
// The login form is oidc-provider's devInteractions: any password, the login is the account id.
import fs from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;

const provider = new Provider(config.issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // the scopes' claims go into the ID token too (as Keycloak, Google and Entra ID put e-mail there)
  // (config.conform: true keeps them to userinfo only, as some providers do)
  conformIdTokenClaims: Boolean(config.conform),
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['cgd-bridge-test-provider-cookie-key'] },
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
});
provider.proxy = false;
const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${config.issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
