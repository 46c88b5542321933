import { MemoryStorage } from "../../src/storage/memory-storage.ts";
import { logStoreSuite } from "./log-store.case.ts";

logStoreSuite("MemoryStorage", () => ({
  create: () => new MemoryStorage(),
  cleanup: () => {},
}));
