// Routing: the router, the iq registry, the contracts for sessions and components.
export type { Component, Deliver } from "./component.ts";
export { type IqContext, type IqHandler, iqPayload, IqRegistry, type IqTarget } from "./iq.ts";
export { Router, type RouterOptions } from "./router.ts";
export type { BoundSession } from "./session.ts";
export { Priority, type RouterEvents, type RouterHandler, RouterHooks } from "./hooks.ts";
