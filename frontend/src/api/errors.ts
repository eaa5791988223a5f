// Every failure of the console API has one shape, {"code", "message", "request_id"}: it
// becomes an ApiError whose message is the API's own, shown as it is to the user.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, requestId: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

interface ErrorBody {
  code?: unknown;
  message?: unknown;
  request_id?: unknown;
  detail?: unknown;
}

/** An ApiError from a response's status and its (already parsed) body, whatever it is. */
export function apiErrorFrom(status: number, body: unknown, requestId: string | null = null): ApiError {
  const shaped = (typeof body === "object" && body !== null ? body : {}) as ErrorBody;
  const code = typeof shaped.code === "string" ? shaped.code : `HTTP${status}`;
  let message: string;
  if (typeof shaped.message === "string" && shaped.message) message = shaped.message;
  else if (typeof body === "string" && body.trim()) message = body.trim().slice(0, 300);
  else message = `The server answered ${status}.`;
  const id = typeof shaped.request_id === "string" ? shaped.request_id : requestId;
  return new ApiError(status, code, message, id);
}

/** Read a failed Response (JSON or not) into an ApiError. */
export async function apiErrorFromResponse(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: a proxy's page, say; keep the text
  }
  return apiErrorFrom(response.status, body, response.headers.get("X-Request-Id"));
}

/** The message to show for anything thrown: an ApiError's own, or a network failure's. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
