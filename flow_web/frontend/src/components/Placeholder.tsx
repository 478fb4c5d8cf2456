import type { ReactNode } from "react";

/** A screen whose content is still to come: says what it will show, and what to use meanwhile. */
export function Placeholder({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="page">
      <div className="page-head">
        <h1>{title}</h1>
      </div>
      <div className="card placeholder">{children}</div>
    </div>
  );
}
