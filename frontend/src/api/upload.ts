// Multipart uploads with progress (fetch has no upload progress; XMLHttpRequest does).
import { consoleHeaders, ensureCsrfCookie, reportUnauthenticated } from "./client";
import { ApiError, apiErrorFrom } from "./errors";

export interface UploadOptions {
  /** The form field each file goes in (default `files`, repeated; batch files take `file`). */
  field?: string;
  /** Form fields sent beside the files (e.g. tags, metadata). */
  fields?: Record<string, string>;
  /** Bytes sent so far, 0–100. */
  onProgress?: (percent: number) => void;
  signal?: AbortSignal;
}

/** POST `files` (repeated `files` fields, or `options.field`) and `fields` to `path`; resolves with the JSON. */
export async function uploadFiles<T>(path: string, files: File[], options: UploadOptions = {}): Promise<T> {
  await ensureCsrfCookie();
  const form = new FormData();
  files.forEach((file) => form.append(options.field ?? "files", file, file.name));
  for (const [name, value] of Object.entries(options.fields ?? {})) form.append(name, value);
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = true;
    for (const [name, value] of Object.entries(consoleHeaders("POST"))) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) options.onProgress?.(Math.round((event.loaded / event.total) * 100));
    };
    xhr.onload = () => {
      let body: unknown = xhr.responseText;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // keep the text
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        options.onProgress?.(100);
        resolve(body as T);
      } else {
        const error = apiErrorFrom(xhr.status, body, xhr.getResponseHeader("X-Request-Id"));
        reportUnauthenticated(error);
        reject(error);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "NetworkError", "The upload could not reach the server."));
    xhr.onabort = () => reject(new ApiError(0, "Aborted", "The upload was cancelled."));
    options.signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(form);
  });
}
