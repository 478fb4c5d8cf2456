import { describe, expect, it } from "vitest";
import {
  connectionToForm,
  flowsUsing,
  formFieldOf,
  formToConnectionSpec,
  hasPlainPassword,
  kindOfUrl,
  newConnectionForm,
  splitUserInfo,
  urlWithPassword,
  type Connection,
} from "./connections";

const STORED: Connection = {
  id: "warehouse",
  name: "Warehouse",
  kind: "sql",
  url: "postgresql+psycopg://dataflow:***@127.0.0.1:5432/dataflow_test",
  database: null,
  description: "",
  created_at: "2030-01-01T00:00:00Z",
  updated_at: "2030-01-01T00:00:00Z",
};

describe("URLs and passwords", () => {
  it("splits user info the way the service does (the last @ ends it)", () => {
    expect(splitUserInfo("postgresql://u:p@ss:w@rd@host:5432/db?x=1")).toEqual({
      scheme: "postgresql://",
      user: "u",
      password: "p@ss:w@rd",
      rest: "host:5432/db?x=1",
      hasUserInfo: true,
    });
    expect(splitUserInfo("sqlite:////tmp/x.db")).toMatchObject({ user: "", password: null, hasUserInfo: false });
    expect(splitUserInfo("mongodb://host/db?authSource=a@b")).toMatchObject({ hasUserInfo: false, rest: "host/db?authSource=a@b" });
  });

  it("puts a typed password into the URL, percent-encoded", () => {
    expect(urlWithPassword("postgresql://dataflow@127.0.0.1/db", "p@ss/w:rd")).toEqual({ url: "postgresql://dataflow:p%40ss%2Fw%3Ard@127.0.0.1/db" });
    expect(urlWithPassword("mongodb://admin:***@h:27017/", "new")).toEqual({ url: "mongodb://admin:new@h:27017/" });
    expect(urlWithPassword("postgresql://h/db", "")).toEqual({ url: "postgresql://h/db" });
    expect("error" in urlWithPassword("postgresql://h/db", "secret")).toBe(true);
    expect("error" in urlWithPassword("", "secret")).toBe(true);
  });

  it("tells plain passwords and kinds", () => {
    expect(hasPlainPassword("postgresql://u:secret@h/db")).toBe(true);
    expect(hasPlainPassword("postgresql://u:***@h/db")).toBe(false);
    expect(hasPlainPassword("sqlite:///x.db")).toBe(false);
    expect(kindOfUrl("mongodb+srv://c.example/db")).toBe("mongo");
    expect(kindOfUrl("sqlite:///tmp/x.db")).toBe("sql");
    expect(kindOfUrl("hello")).toBeNull();
  });
});

describe("connection form <-> API", () => {
  it("creates with the password folded into the URL", () => {
    const form = { ...newConnectionForm(), name: " Warehouse ", url: "postgresql://dataflow@127.0.0.1:5432/dataflow_test", password: "dataflow" };
    expect(formToConnectionSpec(form, { creating: true })).toEqual({
      spec: { name: "Warehouse", kind: "sql", url: "postgresql://dataflow:dataflow@127.0.0.1:5432/dataflow_test", description: "" },
      errors: {},
    });
    const mongo = { ...newConnectionForm(), name: "m", kind: "mongo" as const, url: "mongodb://127.0.0.1:27017", database: "events", id: "m1" };
    expect(formToConnectionSpec(mongo, { creating: true }).spec).toEqual({ id: "m1", name: "m", kind: "mongo", url: "mongodb://127.0.0.1:27017", description: "", database: "events" });
  });

  it("keeps the stored password when an edit leaves it alone", () => {
    const form = connectionToForm(STORED);
    expect(form.password).toBe("");
    const { spec } = formToConnectionSpec({ ...form, description: "changed" }, { creating: false });
    expect(spec).toEqual({ name: "Warehouse", kind: "sql", url: STORED.url, description: "changed" });
    const changed = formToConnectionSpec({ ...form, password: "n3w" }, { creating: false });
    expect(changed.spec!.url).toBe("postgresql+psycopg://dataflow:n3w@127.0.0.1:5432/dataflow_test");
  });

  it("names what is wrong", () => {
    const { spec, errors } = formToConnectionSpec({ ...newConnectionForm(), id: "-bad", url: "mongodb://h/db", password: "x" }, { creating: true });
    expect(spec).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(["id", "name", "password", "url"]);
    const masked = formToConnectionSpec({ ...newConnectionForm(), name: "x", url: "postgresql://u:***@h/db" }, { creating: true });
    expect(masked.errors.password).toContain("stored password");
    expect(formFieldOf("url")).toBe("url");
    expect(formFieldOf("(body)")).toBe("url");
  });
});

describe("flowsUsing", () => {
  it("reads the flows a refused delete names", () => {
    expect(flowsUsing({ flows: ["sales", { id: "daily", name: "Daily load" }, { id: "x" }] })).toEqual(["sales", "Daily load", "x"]);
    expect(flowsUsing({ flows: "nope" })).toEqual([]);
    expect(flowsUsing(undefined)).toEqual([]);
  });
});
