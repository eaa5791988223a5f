import { Card } from "antd";
import type { ReactNode } from "react";
import { LanguageSwitcher } from "../layout/AppLayout";

/** The frame of the pages seen signed out (sign-in, an invitation): the language switcher
 *  in the corner and one card in the middle of a light gradient. */
export function SignedOutFrame({ width, children }: { width: number; children: ReactNode }) {
  return (
    <div style={{ minHeight: "100vh", display: "flex", flexDirection: "column", background: "linear-gradient(160deg,#eef0ff 0%,#f7f8fa 60%)" }}>
      <div style={{ display: "flex", justifyContent: "flex-end", padding: 16 }}>
        <LanguageSwitcher />
      </div>
      <div style={{ flex: 1, display: "flex", alignItems: "center", justifyContent: "center", padding: 16 }}>
        <Card style={{ width }}>{children}</Card>
      </div>
    </div>
  );
}
