#!/usr/bin/env node
/** Entry point of the wg-agent process. */
import { runService } from "@edgeplane/proto";
import { service } from "./service.ts";

runService(service);
