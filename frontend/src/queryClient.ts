import { MutationCache, QueryClient } from "@tanstack/react-query";
import { ApiError } from "./api/errors";
import { notifyError } from "./components/feedback";

declare module "@tanstack/react-query" {
  interface Register {
    // `meta: { silent: true }` on a mutation: the page shows the error itself.
    mutationMeta: { silent?: boolean };
  }
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // A refusal (4xx) will not change by asking again; a network blip might.
        retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
        refetchOnWindowFocus: false,
      },
    },
    mutationCache: new MutationCache({
      onError: (error, _variables, _context, mutation) => {
        if (!mutation.meta?.silent) notifyError(error);
      },
    }),
  });
}
