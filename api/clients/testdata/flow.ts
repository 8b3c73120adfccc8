// Drives keyhaven's REST API through openapi-fetch, typed by openapi-typescript from the
// served OpenAPI document (schema.ts, generated beside this file by the test): the full flow
// of a device-access integration, from a product offering to a verified access key. Exits
// non-zero at the first step the API answers otherwise than the document promises.
//
//   node flow.js BASE_URL TENANT API_KEY
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const [baseUrl, tenant, key] = process.argv.slice(2);
if (!baseUrl || !tenant || !key) {
  throw new Error("usage: node flow.js BASE_URL TENANT API_KEY");
}
const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } });
const path = { tenant };

// The media type the document gives the access PATCH: the type checker refuses this
// constant if the document names another.
type AccessPatchTypes = keyof paths["/api/{tenant}/access/{id}"]["patch"]["requestBody"]["content"];
const mergePatch: AccessPatchTypes = "application/merge-patch+json";

function must<T>(step: string, r: { data?: T; error?: unknown; response: Response }, status: number): T {
  if (r.response.status !== status || r.data === undefined) {
    throw new Error(`${step}: status ${r.response.status}, want ${status}: ${JSON.stringify(r.error ?? r.data)}`);
  }
  return r.data;
}

async function main(): Promise<void> {
  // A product offering and an active contract on it.
  must("create offering", await client.POST("/api/{tenant}/product-offerings", {
    params: { path }, body: { id: "ts-offering", name: "TypeScript offering" },
  }), 201);
  const now = Date.now();
  must("create contract", await client.POST("/api/{tenant}/contracts", {
    params: { path },
    body: {
      id: "ts-contract", productOfferingId: "ts-offering",
      startDate: new Date(now - 3600_000).toISOString(), endDate: new Date(now + 86400_000).toISOString(),
    },
  }), 201);

  // One access: created with its password, read without it, suspended by a merge patch.
  const created = must("create access", await client.POST("/api/{tenant}/access", {
    params: { path, header: { "Idempotency-Key": "ts-access-1" } },
    body: { contractId: "ts-contract", deviceName: "ts-device" },
  }), 201);
  if (!created.password) {
    throw new Error(`create access: no password in ${JSON.stringify(created)}`);
  }
  const read = must("get access", await client.GET("/api/{tenant}/access/{id}", {
    params: { path: { tenant, id: created.id } },
  }), 200);
  if (read.password !== undefined || read.username !== created.username) {
    throw new Error(`get access: ${JSON.stringify(read)}, want ${created.username} without its password`);
  }
  const patched = must("patch access", await client.PATCH("/api/{tenant}/access/{id}", {
    params: { path: { tenant, id: created.id } },
    headers: { "Content-Type": mergePatch },
    body: { status: "SUSPENDED" },
  }), 200);
  if (patched.status !== "SUSPENDED") {
    throw new Error(`patch access: status ${patched.status}, want SUSPENDED`);
  }
  const device = must("verify access", await client.POST("/api/{tenant}/access/verify", {
    params: { path }, body: { username: created.username, password: created.password },
  }), 200);
  if (device.valid || device.code !== "SUSPENDED") {
    throw new Error(`verify access: ${JSON.stringify(device)}, want SUSPENDED`);
  }

  // A batch of three, polled until DONE, its accesses read with their passwords.
  const ref = must("create batch", await client.POST("/api/{tenant}/access/batch", {
    params: { path }, body: { contractId: "ts-contract", numberOfAccesses: 3 },
  }), 202);
  const deadline = Date.now() + 120_000;
  let task = must("get batch", await client.GET("/api/{tenant}/access/batch/{taskId}", {
    params: { path: { tenant, taskId: ref.id } },
  }), 200);
  while (task.state === "ACKNOWLEDGED" || task.state === "IN_PROGRESS") {
    if (Date.now() > deadline) {
      throw new Error(`batch ${ref.id} still ${task.state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    task = must("get batch", await client.GET("/api/{tenant}/access/batch/{taskId}", {
      params: { path: { tenant, taskId: ref.id } },
    }), 200);
  }
  if (task.state !== "DONE" || task.accesses.length !== 3 || task.errors.length !== 0) {
    throw new Error(`batch ${ref.id}: ${JSON.stringify(task)}, want DONE with 3 accesses`);
  }
  for (const a of task.accesses) {
    if (!a.password) {
      throw new Error(`batch ${ref.id}: access ${a.id} has no password`);
    }
  }

  // An application, an access key in it, and the key verified.
  const app = must("create application", await client.POST("/api/{tenant}/applications", {
    params: { path }, body: { name: "ts-app" },
  }), 201);
  const ak = must("create access key", await client.POST("/api/{tenant}/applications/{appId}/access-keys", {
    params: { path: { tenant, appId: app.id } }, body: { name: "ts-key", scopes: ["ACCESS_MANAGEMENT"] },
  }), 201);
  if (!ak.key) {
    throw new Error(`create access key: no key in ${JSON.stringify(ak)}`);
  }
  const verdict = must("verify", await client.POST("/api/verify", {
    body: { key: ak.key, permissions: ["ACCESS_MANAGEMENT"] },
  }), 200);
  if (!verdict.valid || verdict.code !== "VALID" || verdict.id !== ak.id) {
    throw new Error(`verify: ${JSON.stringify(verdict)}, want VALID for ${ak.id}`);
  }
  console.log("tsclient: the full flow passed");
}

main().catch((err: unknown) => {
  console.error("tsclient:", err instanceof Error ? err.message : err);
  process.exit(1);
});
