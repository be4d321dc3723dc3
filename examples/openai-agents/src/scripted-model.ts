// A stand-in for an LLM, so the example runs without an OpenAI key: it implements the Agents
// SDK's `Model` interface, calls the scripted tools one per turn (the turn is the number of tool
// results in its input, so a run resumed in another process continues where it stopped), then
// answers with every tool result it received. Its usage is made up but recorded like a real one.
import {
  type Model,
  type ModelRequest,
  type ModelResponse,
  type StreamEvent,
  Usage,
} from '@openai/agents';

export interface ScriptedCall {
  tool: string;
  args: Record<string, unknown>;
}

let counter = 0;

function toolResults(request: ModelRequest): string[] {
  if (typeof request.input === 'string') return [];
  return request.input
    .filter((item) => item.type === 'function_call_result')
    .map((item) => {
      const result = item as { name: string; output: unknown };
      const output = result.output as { text?: string } | string;
      return `${result.name} → ${typeof output === 'string' ? output : (output.text ?? '')}`;
    });
}

export function scriptedModel(
  calls: ScriptedCall[],
  name = 'gpt-4o-mini',
): Model & { model: string } {
  const respond = (request: ModelRequest): ModelResponse => {
    const results = toolResults(request);
    const next = calls[results.length];
    counter += 1;
    return {
      usage: new Usage({
        requests: 1,
        inputTokens: 400 + 50 * results.length,
        outputTokens: 40,
        totalTokens: 440 + 50 * results.length,
      }),
      output: next
        ? [
            {
              type: 'function_call',
              name: next.tool,
              callId: `call_${process.pid}_${counter}`,
              status: 'completed',
              arguments: JSON.stringify(next.args),
            },
          ]
        : [
            {
              type: 'message',
              role: 'assistant',
              status: 'completed',
              content: [{ type: 'output_text', text: `Done.\n  ${results.join('\n  ')}` }],
            },
          ],
      responseId: `resp_${counter}`,
    };
  };
  return {
    model: name,
    async getResponse(request) {
      return respond(request);
    },
    async *getStreamedResponse(request): AsyncIterable<StreamEvent> {
      const response = respond(request);
      yield { type: 'response_started' };
      yield {
        type: 'response_done',
        response: {
          id: response.responseId ?? 'resp',
          usage: {
            inputTokens: response.usage.inputTokens,
            outputTokens: response.usage.outputTokens,
            totalTokens: response.usage.totalTokens,
          },
          output: response.output,
        },
      } as StreamEvent;
    },
  };
}
