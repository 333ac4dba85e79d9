// Drives keyward with Sinch's official Node SDK client: its OAuth2 plugin
// fetches a token from keyward (authHostname), and refetches it when keyward
// answers 401 with an "expired" challenge. Used by official_sdk.rs.
const readline = require('readline');
const { ApiFetchClient, buildOAuth2ApiClientOptions } = require('@sinch/sdk-client');

const { KEYWARD_URL, PROJECT_ID, KEY_ID, KEY_SECRET } = process.env;

async function listKeys(client) {
  const url = `${KEYWARD_URL}/v1/projects/${PROJECT_ID}/accessKeys`;
  const requestOptions = await client.prepareOptions(url, 'GET', {}, {}, undefined);
  return client.processCall({ url, requestOptions, apiName: 'AccessKeys', operationId: 'ListAccessKeys' });
}

(async () => {
  const options = buildOAuth2ApiClientOptions(
    { projectId: PROJECT_ID, keyId: KEY_ID, keySecret: KEY_SECRET, authHostname: KEYWARD_URL },
    'Access Keys',
  );
  const client = new ApiFetchClient({ ...options, hostname: KEYWARD_URL });
  const first = await listKeys(client);
  console.log(`first ${first.accessKeys.length}`);
  // The test moves keyward's clock past the token's expiry, then says go.
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once('line', resolve));
  lines.close();
  const second = await listKeys(client);
  console.log(`second ${second.accessKeys.length}`);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
