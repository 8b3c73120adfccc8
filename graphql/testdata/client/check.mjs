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

console.log(JSON.stringify({ ok: true, types: Object.keys(schema.getTypeMap()).length, sdlBytes: printSchema(schema).length }));
