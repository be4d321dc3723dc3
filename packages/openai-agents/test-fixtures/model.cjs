// A scripted model for the child-process tests (plain JavaScript, usable from ESM and CJS):
// it calls the scripted tools one per turn (the turn is the number of tool results in its input,
// so a run resumed in another process continues where it stopped), then answers with every tool
// result it received. Mirrors src/test-helpers.ts.
let counter = 0;

function textOf(output) {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map(textOf).join('');
  if (output && typeof output === 'object' && 'text' in output) return String(output.text);
  return JSON.stringify(output);
}

function scriptedToolModel({ calls, name, usage = { input: 100, output: 20 } }) {
  const respond = (request) => {
    const results =
      typeof request.input === 'string'
        ? []
        : request.input
            .filter((item) => item.type === 'function_call_result')
            .map((item) => ({ name: item.name, output: textOf(item.output) }));
    const next = calls[results.length];
    counter += 1;
    const output = next
      ? [
          {
            type: 'function_call',
            name: next.tool,
            callId: `call_${process.pid}_${counter}`,
            id: `fc_${counter}`,
            status: 'completed',
            arguments: JSON.stringify(next.args),
          },
        ]
      : [
          {
            type: 'message',
            role: 'assistant',
            status: 'completed',
            id: `msg_${counter}`,
            content: [
              {
                type: 'output_text',
                text: `done: ${results.map((result) => `${result.name}=${result.output}`).join(' | ')}`,
              },
            ],
          },
        ];
    return {
      usage: {
        requests: 1,
        inputTokens: usage.input,
        outputTokens: usage.output,
        totalTokens: usage.input + usage.output,
        inputTokensDetails: [],
        outputTokensDetails: [],
      },
      output,
      responseId: `resp_${counter}`,
    };
  };
  return {
    model: name,
    async getResponse(request) {
      return respond(request);
    },
    async *getStreamedResponse(request) {
      const response = respond(request);
      yield { type: 'response_started' };
      yield {
        type: 'response_done',
        response: {
          id: response.responseId,
          usage: {
            requests: 1,
            inputTokens: response.usage.inputTokens,
            outputTokens: response.usage.outputTokens,
            totalTokens: response.usage.totalTokens,
          },
          output: response.output,
        },
      };
    },
  };
}

module.exports = { scriptedToolModel };
