// Mozilla User Preferences
user_pref("browser.startup.page", 3);
user_pref("extensions.webextensions.uuids", "{\"webextension@metamask.io\":\"0b6b2e5e-7d2c-4b4c-9e6f-1a2b3c4d5e6f\",\"x@y\":\"11111111-2222-3333-4444-555555555555\"}");
