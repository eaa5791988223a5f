// Chinese and English. The language follows the browser until the user picks one in the
// header (remembered in localStorage). Every UI string lives in en.ts and zh.ts; zh.ts is
// typed against en.ts, so a key missing in either fails `npm run typecheck`.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./en";
import zh from "./zh";

export const LANGUAGES = { en: "English", zh: "中文" } as const;
export type Language = keyof typeof LANGUAGES;
const STORAGE_KEY = "ministudio.language";

export function detectLanguage(): Language {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "zh") return saved;
  const browser = (navigator.languages?.[0] ?? navigator.language ?? "en").toLowerCase();
  return browser.startsWith("zh") ? "zh" : "en";
}

export function setLanguage(language: Language): void {
  localStorage.setItem(STORAGE_KEY, language);
  void i18n.changeLanguage(language);
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
}

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, zh: { translation: zh } },
  lng: detectLanguage(),
  fallbackLng: "en",
  interpolation: { escapeValue: false },
  returnNull: false,
});
document.documentElement.lang = i18n.language === "zh" ? "zh-CN" : "en";

export default i18n;
