#!/usr/bin/env node
/** Entry point of the haproxy-agent process. */
import { runService } from "@edgeplane/proto";
import { service } from "./service.ts";

runService(service);
