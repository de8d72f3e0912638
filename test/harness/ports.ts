/**
 * Free TCP ports on the loopback interface, for servers that cannot pick their own.
 *
 * Prefer letting a server bind port 0 (or `-p -1`) and reading back what it got: a port
 * returned here is only free at the moment it is returned.
 */
import { createServer } from "node:net";

/** A TCP port that is free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("freePort: no port assigned"))));
    });
  });
}
