// Downloads of files the console API serves as attachments (batch input, output and error
// files, an app exported as YAML). The API needs the X-Workspace header, which a plain <a href download> cannot
// send, so the file is fetched through the client and saved through a Blob URL.
import { api, call } from "./client";

/** The file name of a Content-Disposition header (RFC 6266: filename* first), else `fallback`. */
export function filenameFromDisposition(header: string | null | undefined, fallback: string): string {
  if (!header) return fallback;
  const extended = /filename\*\s*=\s*[^']*'[^']*'([^;]+)/i.exec(header);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1].trim().replace(/^"|"$/g, ""));
    } catch {
      // a malformed escape: fall through to the plain name
    }
  }
  const plain = /filename\s*=\s*(?:"([^"]*)"|([^;]+))/i.exec(header);
  const name = (plain?.[1] ?? plain?.[2] ?? "").trim();
  return name || fallback;
}

/** Hand `blob` to the browser as a download named `filename`. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.style.display = "none";
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Some browsers read the URL after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** Download a batch file (`/console/api/batch-files/{id}/content`); resolves with its name. */
export async function downloadBatchFile(fileId: string, fallbackName = `${fileId}.jsonl`): Promise<string> {
  let disposition: string | null = null;
  const blob = await call(
    api
      .GET("/console/api/batch-files/{file_id}/content", { params: { path: { file_id: fileId } }, parseAs: "blob" })
      .then((result) => {
        disposition = result.response.headers.get("Content-Disposition");
        return result;
      }),
  );
  const name = filenameFromDisposition(disposition, fallbackName);
  // An empty file comes back without a body (Content-Length: 0).
  saveBlob(blob ?? new Blob([], { type: "application/jsonl" }), name);
  return name;
}

/** Download an app as YAML (`/console/api/apps/{id}/export`); resolves with its name. */
export async function downloadAppYaml(appId: string, fallbackName: string): Promise<string> {
  let disposition: string | null = null;
  const text = await call(
    api.GET("/console/api/apps/{app_id}/export", { params: { path: { app_id: appId } }, parseAs: "text" }).then((result) => {
      disposition = result.response.headers.get("Content-Disposition");
      return result;
    }),
  );
  const name = filenameFromDisposition(disposition, fallbackName);
  saveBlob(new Blob([typeof text === "string" ? text : ""], { type: "application/yaml" }), name);
  return name;
}
