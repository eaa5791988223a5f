import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";
import "../i18n";

// antd reads these; happy-dom lacks them.
if (!window.matchMedia) {
  window.matchMedia = (query: string) =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => {},
      removeListener: () => {},
      addEventListener: () => {},
      removeEventListener: () => {},
      dispatchEvent: () => false,
    }) as MediaQueryList;
}

// findBy* and waitFor wait on a condition; on a busy machine it can take longer than the
// default second to come true.
configure({ asyncUtilTimeout: 10_000 });

afterEach(() => cleanup());
