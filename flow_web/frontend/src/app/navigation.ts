/** The main navigation, in order. Each entry's screen lives in src/screens/<Screen>/. */
export const NAVIGATION = [
  { path: "/flows", label: "Flows" },
  { path: "/runs", label: "Runs" },
  { path: "/cron", label: "Cron jobs" },
  { path: "/streams", label: "Streams" },
  { path: "/connections", label: "Connections" },
] as const;
