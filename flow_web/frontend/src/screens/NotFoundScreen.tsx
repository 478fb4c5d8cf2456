import { Link, useLocation } from "react-router";

export function NotFoundScreen() {
  const location = useLocation();
  return (
    <div className="page">
      <div className="card placeholder">
        <h1>Nothing here</h1>
        <p>
          No screen at <code>{location.pathname}</code>. <Link to="/flows">Go to the flows</Link>.
        </p>
      </div>
    </div>
  );
}
