// CORS (the Fetch standard's CORS protocol) for the services browsers call from other origins:
// web clients upload files, fetch host-meta and open WebSockets from pages served elsewhere.

/** The headers that let any origin use a resource with these methods and request headers. */
export function corsHeaders(
  methods: readonly string[] = ["GET", "HEAD", "OPTIONS"],
  headers: readonly string[] = ["Content-Type"],
): Record<string, string> {
  return {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": methods.join(", "),
    "access-control-allow-headers": headers.join(", "),
    "access-control-max-age": "86400",
  };
}

/** The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`). */
export function preflight(
  methods: readonly string[],
  headers: readonly string[] = ["Content-Type"],
): Response {
  return new Response(null, { status: 204, headers: corsHeaders(methods, headers) });
}
