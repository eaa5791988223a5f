// A scripted XMLHttpRequest for tests of uploads (which go through XHR for progress):
// `vi.stubGlobal("XMLHttpRequest", FakeXhr)`, set `FakeXhr.reply`, read `FakeXhr.last`.
export class FakeXhr {
  static last: FakeXhr;
  static reply = { status: 202, body: "{}" };
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: FormData | null = null;
  withCredentials = false;
  status = 0;
  responseText = "";
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getResponseHeader() {
    return null;
  }
  abort() {}
  send(body: FormData) {
    this.body = body;
    this.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 200 });
    this.upload.onprogress?.({ lengthComputable: true, loaded: 200, total: 200 });
    this.status = FakeXhr.reply.status;
    this.responseText = FakeXhr.reply.body;
    queueMicrotask(() => this.onload?.());
  }
}
