// autocannon driven through its API (its command line cannot cycle paths): one LoadTarget (bench/load.ts) as
// JSON in argv[2], the result as JSON on stdout. Plain JavaScript, so Node runs it as it is.
import autocannon from 'autocannon';

const { baseUrl, target, seconds, connections } = JSON.parse(process.argv[2]);
const paths = target.lanes.flat();
let sent = 0;

const result = await autocannon({
  url: baseUrl,
  connections,
  duration: seconds,
  method: target.method,
  headers: target.headers,
  body: target.body,
  requests: [
    {
      setupRequest: (request) => {
        request.path = paths[sent++ % paths.length];
        return request;
      },
    },
  ],
});
process.stdout.write(JSON.stringify(result));
