// Placeholder until the settings page lands.
export {};
