/** First-run setup and the caller's identity, answered by the auth service. */
import { Errors } from "../errors.ts";
import { Me, SetupComplete, SetupCompleted, SetupStatus } from "../schemas/setup.ts";
import { Subjects } from "../subjects.ts";
import { defineRoute } from "./route.ts";

export const setupStatusRoute = defineRoute({
  id: "setup.status",
  method: "GET",
  path: "/api/v1/setup/status",
  summary: "Is first-run setup still open?",
  tags: ["setup"],
  auth: "public",
  subject: Subjects.auth.setupStatus,
  reply: SetupStatus,
});

export const setupCompleteRoute = defineRoute({
  id: "setup.complete",
  method: "POST",
  path: "/api/v1/setup/complete",
  summary: "Create the first owner",
  description:
    "Takes the one-time setup token printed at first start, creates the first owner and returns a full-scope API key once. Inert afterwards (409).",
  tags: ["setup"],
  auth: "public",
  rateClass: "auth",
  subject: Subjects.auth.setupComplete,
  body: SetupComplete,
  reply: SetupCompleted,
  status: 201,
  errors: [Errors.ValidationFailed, Errors.InvalidSetupToken, Errors.SetupCompleted],
});

export const meRoute = defineRoute({
  id: "auth.me",
  method: "GET",
  path: "/api/v1/auth/me",
  aliases: ["/api/auth/me"],
  summary: "Who am I?",
  tags: ["auth"],
  auth: "principal",
  subject: Subjects.auth.me,
  reply: Me,
  errors: [Errors.Unauthenticated],
});
