import { afterEach, describe, expect, it, vi } from "vitest";
import { call, consoleHeaders, onUnauthenticated, setCurrentWorkspace } from "./client";
import { ApiError, apiErrorFrom, errorMessage } from "./errors";

function response(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers });
}

afterEach(() => {
  setCurrentWorkspace(null);
  document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
});

describe("API errors", () => {
  it("keep the API's code, message and request id", () => {
    const error = apiErrorFrom(404, { code: "NotFound", message: "Knowledge base not found.", request_id: "r-1" });
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.code, error.message, error.requestId]).toEqual([404, "NotFound", "Knowledge base not found.", "r-1"]);
    expect(errorMessage(error)).toBe("Knowledge base not found.");
  });

  it("still say something for a body that is not the error shape", () => {
    expect(apiErrorFrom(502, "<html>Bad gateway</html>").message).toBe("<html>Bad gateway</html>");
    expect(apiErrorFrom(500, undefined).message).toBe("The server answered 500.");
    expect(apiErrorFrom(500, undefined).code).toBe("HTTP500");
  });
});

describe("call()", () => {
  it("returns the data of a success", async () => {
    await expect(call(Promise.resolve({ data: [1, 2], response: response(200) }))).resolves.toEqual([1, 2]);
  });

  it("throws the API's error with its message", async () => {
    const failure = call(
      Promise.resolve({
        error: { code: "InvalidParameter", message: "name: field required", request_id: "abc" },
        response: response(400),
      }),
    );
    await expect(failure).rejects.toMatchObject({ status: 400, code: "InvalidParameter", message: "name: field required" });
  });

  it("tells listeners when the session is gone (401)", async () => {
    const heard = vi.fn();
    const stop = onUnauthenticated(heard);
    await expect(
      call(Promise.resolve({ error: { code: "NotAuthenticated", message: "Sign in." }, response: response(401) })),
    ).rejects.toBeInstanceOf(ApiError);
    stop();
    expect(heard).toHaveBeenCalledOnce();
  });

  it("turns a network failure into an ApiError", async () => {
    await expect(call(Promise.reject(new TypeError("Failed to fetch")))).rejects.toMatchObject({ code: "NetworkError", message: "Failed to fetch" });
  });
});

describe("console headers", () => {
  it("send the workspace always and the CSRF token on writes", () => {
    setCurrentWorkspace("demo");
    document.cookie = "csrftoken=tok123";
    expect(consoleHeaders("GET")).toEqual({ "X-Workspace": "demo" });
    expect(consoleHeaders("POST")).toEqual({ "X-Workspace": "demo", "X-CSRFToken": "tok123" });
    document.cookie = "csrftoken=rotated"; // signing in rotates it: read afresh each time
    expect(consoleHeaders("delete")["X-CSRFToken"]).toBe("rotated");
  });
});
