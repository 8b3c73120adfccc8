// Drives keyhaven's GraphQL endpoint with the reference GraphQL implementation: builds the
// client schema from introspection, validates the contract's documents against it, runs them
// over HTTP and checks their answers. Usage: node check.mjs ENDPOINT_URL BEARER_KEY
import {
  buildClientSchema, getIntrospectionQuery, assertValidSchema, parse, validate, printSchema,
} from "graphql";

const [url, key] = process.argv.slice(2);

async function run(query, variables) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  return { status: res.status, ...body };
}

function fail(msg) {
  console.error(msg);
  process.exit(1);
}

const intro = await run(getIntrospectionQuery());
if (intro.errors) fail("introspection failed: " + JSON.stringify(intro.errors));
const schema = buildClientSchema(intro.data);
assertValidSchema(schema);

const documents = {
  create: `mutation { createApiKey(api_key: {name: "POWER_USER", permissions: [READ, WRITE, IGNORE_AVAILABILITY, TIME_TRAVEL], expires: "2031-12-31T11:59:00Z"}) { api_key name } }`,
  list: `query { listApiKeys { api_key name expires created active } }`,
  update: `mutation { updateApiKey(name: "POWER_USER", api_key: { active: false }) { name active } }`,
  remove: `mutation { deleteApiKey(name: "POWER_USER") }`,
  createWithPolicies: `mutation($meta: JSON) { createApiKey(api_key: {name: "GATEWAY", permissions: [READ], ip_allowlist: ["203.0.113.0/24"], rate_limit: {limit: 100, period_seconds: 60}, credits: {remaining: 1000000000000, refill: {amount: 5000, interval: DAILY}}, meta: $meta}) { api_key } }`,
  listPolicies: `query { listApiKeys { name last_used ip_allowlist rate_limit { limit period_seconds } credits { remaining refill { amount interval } } meta } }`,
  clearPolicies: `mutation { updateApiKey(name: "GATEWAY", api_key: {ip_allowlist: null, meta: null}) { ip_allowlist rate_limit { limit } meta } }`,
  rotate: `mutation { rotateApiKey(name: "GATEWAY", grace_period_seconds: 60) { api_key name } }`,
};
for (const [name, doc] of Object.entries(documents)) {
  const errors = validate(schema, parse(doc));
  if (errors.length) fail(`document ${name} is invalid against the served schema: ${errors}`);
}
// The client-side check can fail: a document the schema does not allow is refused.
if (validate(schema, parse(`{ listApiKeys { secret } }`)).length === 0) fail("an invalid document validated");

const created = await run(documents.create);
if (created.errors || !/^khk_[0-9A-Za-z]{38}$/.test(created.data.createApiKey.api_key)) {
  fail("createApiKey: " + JSON.stringify(created));
}
const listed = await run(documents.list);
const power = listed.data?.listApiKeys?.find((k) => k.name === "POWER_USER");
if (!power || !power.active || power.expires !== "2031-12-31T11:59:00Z" || power.api_key === created.data.createApiKey.api_key) {
  fail("listApiKeys: " + JSON.stringify(listed));
}
const updated = await run(documents.update);
if (updated.errors || updated.data.updateApiKey.active !== false) fail("updateApiKey: " + JSON.stringify(updated));
const removed = await run(documents.remove);
if (removed.errors || removed.data.deleteApiKey !== "POWER_USER") fail("deleteApiKey: " + JSON.stringify(removed));
const denied = await run(`mutation { deleteApiKey(name: "POWER_USER") }`);
if (denied.errors?.[0]?.extensions?.code !== "NOT_FOUND") fail("second delete: " + JSON.stringify(denied));

// Key policies: given with the schema's types (a SafeInt past 32 bits, a JSON object as a
// variable), read back as given, cleared by an explicit null, and a rotation's new secret.
const gw = await run(documents.createWithPolicies, { meta: { customer: "cus_42", plan: "pro" } });
if (gw.errors || !/^khk_/.test(gw.data.createApiKey.api_key)) fail("createApiKey with policies: " + JSON.stringify(gw));
const policies = (await run(documents.listPolicies)).data?.listApiKeys?.find((k) => k.name === "GATEWAY");
if (JSON.stringify(policies) !== JSON.stringify({
  name: "GATEWAY", last_used: null, ip_allowlist: ["203.0.113.0/24"], rate_limit: { limit: 100, period_seconds: 60 },
  credits: { remaining: 1000000000000, refill: { amount: 5000, interval: "DAILY" } }, meta: { customer: "cus_42", plan: "pro" },
})) fail("listApiKeys with policies: " + JSON.stringify(policies));
const cleared = await run(documents.clearPolicies);
if (JSON.stringify(cleared.data?.updateApiKey) !== JSON.stringify({ ip_allowlist: [], rate_limit: { limit: 100 }, meta: null })) {
  fail("updateApiKey clearing policies: " + JSON.stringify(cleared));
}
const rotated = await run(documents.rotate);
if (rotated.errors || !/^khk_[0-9A-Za-z]{38}$/.test(rotated.data.rotateApiKey.api_key) || rotated.data.rotateApiKey.api_key === gw.data.createApiKey.api_key) {
  fail("rotateApiKey: " + JSON.stringify(rotated));
}
const fraction = await run(`mutation { createApiKey(api_key: {name: "F", permissions: [READ], credits: {remaining: 1.5}}) { name } }`);
if (fraction.errors?.[0]?.extensions?.code !== "BAD_USER_INPUT") fail("fractional credits: " + JSON.stringify(fraction));

console.log(JSON.stringify({ ok: true, types: Object.keys(schema.getTypeMap()).length, sdlBytes: printSchema(schema).length }));
