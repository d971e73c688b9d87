// Placeholder: replaced by the Docker image setup.
export function setup(): void {}
