// journey.ts — a full repair ticket journey written against the client generated from
// docs/api/openapi.yaml (openapi-typescript + openapi-fetch), with no casts: a wrong path, field
// name or enum value is a type error, so `tsc --noEmit` holds the document to the names the
// gateway really speaks. tests/integration/api_contract.sh copies it to build/contract (next to
// the generated api.d.ts and the npm packages), type-checks it and runs it against the test
// stack (AS_GATEWAY_URL, AS_TOKEN_CENTER, JOURNEY_IMEI, JOURNEY_INVOICE_DATE).
//
// The journey: open → (warranty adjudicates: not covered, the customer pays) → diagnose with an
// estimate → the customer consents → repair complete (ready) → hand back (closed), reading the
// ticket in between.
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js"; // generated: build/contract/api.d.ts

type Ticket = components["schemas"]["intake.Ticket"];
type TicketState = components["schemas"]["intake.TicketState"];
type OpenTicket = components["schemas"]["intake.OpenTicket"];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function expectState(step: string, t: Ticket, want: TicketState): Ticket {
  if (t.state !== want) throw new Error(`${step}: state ${t.state}, expected ${want}`);
  console.log(`ok - ${step}: ${t.id} is ${t.state}`);
  return t;
}

export async function journey(baseUrl: string, token: string, imei: string, invoiceDate: string) {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  const read = async (id: string): Promise<Ticket> => {
    const { data, error } = await api.GET("/v1/tickets/{id}", { params: { path: { id } } });
    if (!data) throw new Error(`read ${id}: ${JSON.stringify(error)}`);
    return data;
  };

  // A water-damaged phone: misuse, so not covered by 三包 and the customer pays.
  const body: OpenTicket = {
    customer: { name: "Zhao Min", phone: "13500005555" },
    device: { category: "phone_host", brand: "Huaxin", model: "HX-10", imei, imei_label: imei },
    purchase: { invoice_date: invoiceDate, price_cents: 399900, invoice: true, warranty_card: true },
    fault: { code: "LIQUID", description: "dropped in water", listed: false },
    flags: { misuse: true },
    request: "repair",
  };
  const opened = await api.POST("/v1/tickets", { body });
  if (!opened.data) throw new Error(`open: ${JSON.stringify(opened.error)}`);
  const id = opened.data.id;
  expectState("open", opened.data, "received");

  // Warranty adjudicates from intake's event, asynchronously: read until it has.
  let t = await read(id);
  for (let i = 0; i < 100 && t.state === "received"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    t = await read(id);
  }
  expectState("read after adjudication", t, "adjudicated");
  if (t.decision?.status !== "not_covered") throw new Error(`decision: ${t.decision?.status}`);

  const path = { path: { id } };
  // A body as a value of the command's schema: a misspelt field is an error here.
  const diagnosis: components["schemas"]["intake.Diagnose"] = {
    fault_code: "LIQUID",
    labour_code: "L-BOARD",
    estimate_cents: 42000,
  };
  const diagnosed = await api.POST("/v1/tickets/{id}/diagnosis", { params: path, body: diagnosis });
  if (!diagnosed.data) throw new Error(`diagnose: ${JSON.stringify(diagnosed.error)}`);
  expectState("diagnose with an estimate", diagnosed.data, "estimate_pending");

  const consented = await api.POST("/v1/tickets/{id}/consent", {
    params: path,
    body: { accept: true, note: "agreed by phone" },
  });
  if (!consented.data) throw new Error(`consent: ${JSON.stringify(consented.error)}`);
  expectState("the customer consents", consented.data, "in_repair");
  expectState("read in repair", await read(id), "in_repair");

  const repaired = await api.POST("/v1/tickets/{id}/repair-complete", {
    params: path,
    body: { parts_used: [], labour_minutes: 90, cause: "other" },
  });
  if (!repaired.data) throw new Error(`repair-complete: ${JSON.stringify(repaired.error)}`);
  expectState("repair complete", repaired.data, "ready");
  const ready = expectState("read when ready", await read(id), "ready");
  if (ready.work?.consented_estimate_cents !== 42000)
    throw new Error(`consented estimate: ${ready.work?.consented_estimate_cents}`);

  const handed = await api.POST("/v1/tickets/{id}/handback", {
    params: path,
    body: { payment_method: "wechat_pay" },
  });
  if (!handed.data) throw new Error(`handback: ${JSON.stringify(handed.error)}`);
  expectState("hand back", handed.data, "closed");
  const closed = expectState("read when closed", await read(id), "closed");
  if (closed.work?.payment_method !== "wechat_pay") throw new Error("the payment method is lost");
  const steps = closed.timeline.map((e) => e.to_state ?? "").filter((s) => s !== "");
  console.log(`ok - the timeline: ${steps.join(" -> ")}`);
}

if (process.argv[1]?.endsWith("journey.js")) {
  journey(
    env("AS_GATEWAY_URL"),
    env("AS_TOKEN_CENTER"),
    env("JOURNEY_IMEI"),
    env("JOURNEY_INVOICE_DATE"),
  ).catch((e: unknown) => {
    console.log(`not ok - the journey: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
