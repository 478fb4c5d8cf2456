import { Link, isRouteErrorResponse, useRouteError } from "react-router";
import { errorMessage } from "../api/client";

/** What a screen that crashed shows instead of a blank page. */
export function RouteError() {
  const error = useRouteError();
  const message = isRouteErrorResponse(error) ? `${error.status} ${error.statusText}` : errorMessage(error);
  return (
    <div className="center-page">
      <div className="card narrow">
        <h1>Something went wrong</h1>
        <p className="error-box">{message}</p>
        <Link className="button primary" to="/flows">
          Back to flows
        </Link>
      </div>
    </div>
  );
}
