import type { ResolvedConfig } from './config';
import type { Router } from './http/router';
import type { Logger } from './logger';
import type { AgentService } from './services/agents';
import type { ApprovalService } from './services/approvals';
import type { LiveEvents } from './services/events';
import type { ApprovalHub } from './services/hub';
import type { PolicyService } from './services/policies';
import type { UsageService } from './services/usage';
import type { WebhookService } from './services/webhooks';
import type { Store } from './store';

/** Everything a route or a plug-in (the admin API, the dashboard) works with. */
export interface ServerContext {
  config: ResolvedConfig;
  logger: Logger;
  store: Store;
  router: Router;
  hub: ApprovalHub;
  events: LiveEvents;
  agents: AgentService;
  policies: PolicyService;
  approvals: ApprovalService;
  webhooks: WebhookService;
  usage: UsageService;
  clock: () => number;
}
