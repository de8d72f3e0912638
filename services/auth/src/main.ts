#!/usr/bin/env node
/** Entry point of the auth service process. */
import { runService } from "@edgeplane/proto";
import { authService } from "./service.ts";

runService(authService);
