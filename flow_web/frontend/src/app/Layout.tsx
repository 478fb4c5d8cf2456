/**
 * The frame of every signed-in screen: the navigation, the signed-in user with
 * sign-out, a progress bar while any API call is pending, and the screen.
 */
import { useEffect, useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { useAuth } from "../auth/AuthProvider";
import { NAVIGATION } from "./navigation";
import { useServices } from "./services";

function ProgressBar() {
  const { api } = useServices();
  const [pending, setPending] = useState(0);
  useEffect(() => api.onProgress(setPending), [api]);
  return <div className={pending > 0 ? "progress-bar active" : "progress-bar"} role="progressbar" aria-busy={pending > 0} />;
}

export function Layout() {
  const { user, tokens } = useAuth();
  const navigate = useNavigate();
  const role = user?.role ?? (tokens?.scopes.includes("flows:write") ? "editor" : "viewer");
  return (
    <div className="app">
      <ProgressBar />
      <header className="topbar">
        <NavLink to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          Dataflow
        </NavLink>
        <nav className="main-nav" aria-label="Main">
          {NAVIGATION.map((item) => (
            <NavLink key={item.path} to={item.path} className={({ isActive }) => (isActive ? "nav-link active" : "nav-link")}>
              {item.label}
            </NavLink>
          ))}
        </nav>
        <div className="user-menu">
          <span className="user-name" data-testid="user-name">
            {user?.subject ?? "…"}
          </span>
          <span className={`role-badge ${role}`} data-testid="user-role">
            {role}
          </span>
          <button type="button" className="button small" onClick={() => navigate("/signed-out")}>
            Sign out
          </button>
        </div>
      </header>
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}
