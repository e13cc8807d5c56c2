// `meshlink` with a fake identity token minter (child-process tests of the ID-token path): the
// token is JWT-shaped and names the audience it was minted for, as Google's are.
import { runProcess } from '../../shared/cli/process.js';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

await runProcess({
  mintIdToken: async (audience) => `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ aud: audience, iss: 'https://accounts.google.com', exp: 0 })}.${Buffer.from('signature').toString('base64url')}`,
});
