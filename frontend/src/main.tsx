import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { ConsoleRoutes, Providers } from "./App";
import "./i18n";
import "./styles.css";
import { createQueryClient } from "./queryClient";

const client = createQueryClient();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter>
      <Providers client={client}>
        <ConsoleRoutes />
      </Providers>
    </BrowserRouter>
  </StrictMode>,
);
