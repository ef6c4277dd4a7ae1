// The Salesforce simulator in a process of its own, so its CPU time never counts as the rotator's. Prints one
// JSON line {url, adminApp} on stdout when listening; the bench drives it through its /__sim/ admin API.
import { startSalesforceSimulator } from "../src/simulator/salesforce/salesforce-simulator.ts";

const sim = await startSalesforceSimulator({
  adminApi: true,
  dailyApiLimit: 10_000_000,
  loginRatePerHour: 1_000_000,
});
process.stdout.write(`${JSON.stringify({ url: sim.url, adminApp: sim.adminApp })}\n`);
const stop = async () => {
  await sim.close();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
