// A real OpenID Provider (npm `oidc-provider`) for the gateway's oidc and
// introspection tests. Started by the tests, never by hand:
//
//   node provider.mjs <port> <gateway redirect_uri> <post-logout redirect uri>
//
// Listens on 127.0.0.1:<port>, prints `READY <issuer>` once it accepts
// connections, and logs one `EVENT <name>` line per grant so tests can count
// refreshes. Login and consent are approved automatically for the account
// `alice` (the interaction endpoint finishes the interaction at once), so a
// test drives the whole code + PKCE flow with plain HTTP requests.
import Provider from 'oidc-provider';

const [port, redirectUri, postLogoutUri] = process.argv.slice(2);
if (!port || !redirectUri || !postLogoutUri) {
  console.error('usage: node provider.mjs <port> <redirect_uri> <post_logout_redirect_uri>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const accessTtl = Number(process.env.ACCESS_TOKEN_TTL || 3600);

// Many groups: the ID token is far larger than a 4 KB cookie could carry.
const groups = Array.from({ length: 300 }, (_, i) => `group-with-a-long-name-${i}`);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'gateway',
      client_secret: 'gateway-secret',
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [postLogoutUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // Resource servers calling the introspection endpoint, one per
    // client authentication method.
    {
      client_id: 'rs-basic',
      client_secret: 'rs-basic-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'rs-post',
      client_secret: 'rs-post-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, name: 'Alice Example', groups, roles: ['admin', 'dev'] };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email'], profile: ['name', 'groups', 'roles'] },
  conformIdTokenClaims: false,
  scopes: ['openid', 'offline_access', 'email', 'profile', 'api'],
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  pkce: { required: () => true },
  ttl: { AccessToken: accessTtl, ClientCredentials: accessTtl, IdToken: 3600, RefreshToken: 86400 },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
});

// A slow provider for refresh grants (REFRESH_DELAY_MS), so tests can
// show that concurrent requests of one session share one refresh.
const refreshDelay = Number(process.env.REFRESH_DELAY_MS || 0);
provider.use(async (ctx, next) => {
  if (refreshDelay > 0 && ctx.path === '/token' && ctx.method === 'POST') {
    await new Promise((resolve) => setTimeout(resolve, refreshDelay));
  }
  return next();
});

// Auto-approve: log in as `alice` and grant every requested scope and claim.
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  const accountId = session?.accountId || 'alice';
  const result = {};
  if (prompt.name === 'login') result.login = { accountId };
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope || 'openid'));
  grant.addOIDCClaims(['email', 'name', 'groups', 'roles']);
  result.consent = { grantId: await grant.save() };
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
});

for (const event of ['grant.success', 'end_session.success', 'introspection.error', 'grant.error']) {
  provider.on(event, (ctx, err) => {
    const grantType = ctx?.oidc?.params?.grant_type || '';
    console.log(`EVENT ${event} ${grantType} ${err ? err.message : ''}`.trim());
  });
}

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
