"""The script of the demo archive: conversations and labeled queries, written by hand.

Forty-four conversations of one person's chat history (software work, cooking, garden,
travel, money, family), some on neighbouring topics so that a query has confusable
candidates (two SQL chats, Docker and Kubernetes, sourdough and espresso, two plant
chats). `demo.py` renders them into the three export formats.

Queries are worded unlike the messages they target, in five categories:
- `keyword`: a few rare words the target shares (lexical search is strong here),
- `paraphrase`: the same need in other words and synonyms (vector search is strong),
- `question`: a natural question, partly overlapping the target's vocabulary,
- `typo`: misspelled keywords (neither leg is safe),
- `quoted`: an exact phrase in quotes, as people paste an error message or a line.

A judgment names a message as "<conversation key>:<turn index>" (turn 0 is the first
user message); relevance 2 = the message that answers the query, 1 = a message that
helps (usually the question that led to it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoConversation:
    key: str
    source: str  # chatgpt | claude | openwebui
    title: str
    started: str  # "YYYY-MM-DD HH:MM" UTC
    turns: tuple[str, ...]  # alternating user / assistant, user first


@dataclass(frozen=True)
class DemoQuery:
    id: str
    category: str
    text: str
    relevant: dict[str, int]


C = DemoConversation

CONVERSATIONS: tuple[DemoConversation, ...] = (
    C("cg01", "chatgpt", "Keeping a sourdough starter alive", "2024-01-14 08:20", (
        "My sourdough starter smells like nail polish remover and has a grey liquid on top. Is it dead?",
        "It is almost certainly alive, just hungry. The grey liquid is called hooch: alcohol the yeast makes when it has run out of food, and the acetone smell comes from the same starvation. Pour the hooch off (or stir it in for a tangier loaf), discard all but about 50 g, and feed it.",
        "How much flour and water should I feed it, and how often?",
        "Feed at a 1:1:1 ratio by weight: 50 g starter, 50 g flour, 50 g water. At room temperature (around 22 °C) feed every 12 hours; in the fridge once a week is enough. Use a little whole rye or whole wheat in the flour, the extra nutrients make it livelier.",
        "How do I know when it's ready to bake with?",
        "Use it at its peak: roughly doubled in volume, domed on top, full of bubbles, four to eight hours after a feed. The float test (a spoonful floats in water) is a rough check. If it has collapsed and smells sharp, feed it again and wait for the next rise.",
    )),
    C("cg02", "chatgpt", "Slow PostgreSQL query on orders table", "2024-01-22 14:05", (
        "This query takes 9 seconds: SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.country = 'DE' ORDER BY o.created_at DESC LIMIT 50. orders has 12 million rows.",
        "Run it with EXPLAIN (ANALYZE, BUFFERS) first. With a join like this the usual culprit is a sequential scan on orders because there is no index on orders.customer_id: PostgreSQL does not create indexes on foreign key columns automatically, only on the referenced primary key.",
        "EXPLAIN shows Seq Scan on orders and a Sort node that spills to disk.",
        "Then add the missing index: CREATE INDEX CONCURRENTLY orders_customer_id_created_at_idx ON orders (customer_id, created_at DESC). The composite index serves both the join and the ORDER BY, so the sort disappears. The spill means work_mem is too small for that sort, but with the index you won't need the sort at all.",
        "It went from 9 s to 40 ms. Anything else I should check?",
        "Run ANALYZE orders so the planner's statistics are fresh, and check pg_stat_user_tables for tables where seq_scan is high and idx_scan low: those are other candidates for indexes. Also avoid SELECT * on wide tables, fetching fewer columns lets an index-only scan kick in.",
    )),
    C("cg03", "chatgpt", "Ingress returns 502 after deploy", "2024-02-03 10:40", (
        "After every deployment our Kubernetes ingress returns 502 Bad Gateway for about 30 seconds. The pods are running. What's going on?",
        "The ingress controller is sending traffic to pods that are Running but not yet able to serve. Without a readinessProbe, Kubernetes marks a container ready as soon as the process starts, so the Service adds it to its endpoints before your app has finished booting.",
        "We only have a livenessProbe. What should the readiness probe look like?",
        "Add an HTTP readinessProbe on a cheap endpoint such as /healthz: httpGet path /healthz port 8080, initialDelaySeconds 5, periodSeconds 5, failureThreshold 3. Keep it separate from liveness: liveness restarts a stuck container, readiness only takes it out of the load balancer.",
        "The old pods also seem to drop connections when they terminate.",
        "That is the other half of the 502s. Add a preStop hook that sleeps 10 to 15 seconds so the endpoints controller removes the pod before it stops accepting connections, and make sure terminationGracePeriodSeconds is longer than that sleep plus your shutdown time. Set maxUnavailable: 0 in the rolling update strategy too.",
    )),
    C("cg04", "chatgpt", "Five days in Kyoto in April", "2024-02-11 19:30", (
        "I'm spending five days in Kyoto in early April. How do I avoid the crowds at the famous spots?",
        "Go early. Fushimi Inari is nearly empty before 7 am and the upper part of the mountain stays quiet all day, most visitors turn back at the Yotsutsuji crossing. Arashiyama's bamboo grove is best at sunrise, and Kiyomizu-dera opens at 6 am. Cherry blossom season is the busiest week of the year, so book rooms now.",
        "Is the JR Pass worth it if I'm mostly staying in Kyoto?",
        "Probably not since the 2023 price increase. Within Kyoto you'll use buses and the subway, and an ICOCA card covers them. The pass only pays off if you do the Tokyo to Kyoto round trip plus day trips to Hiroshima or Himeji within its 7 days. For Nara and Osaka just pay per ride.",
        "Any temple that's less touristy but still beautiful?",
        "Try Tofuku-ji for its moss and stone gardens, Daitoku-ji's sub-temples such as Koto-in, or Ohara in the northern hills, where Sanzen-in has a moss garden with little stone statues. Eikan-do is gorgeous too, although it is busier in autumn than in spring.",
    )),
    C("cg05", "chatgpt", "asyncio.gather versus TaskGroup", "2024-02-19 11:10", (
        "In Python 3.11, should I use asyncio.gather or asyncio.TaskGroup to run a hundred HTTP requests concurrently?",
        "Prefer TaskGroup. With gather, if one coroutine raises, the others keep running unless you cancel them yourself, and with return_exceptions=False you only see the first error. A TaskGroup cancels the remaining tasks as soon as one fails and raises an ExceptionGroup holding every error, so nothing leaks.",
        "How do I limit it to ten requests at a time?",
        "Wrap the request in an asyncio.Semaphore(10): async with sem: return await client.get(url). Create all tasks inside the TaskGroup; the semaphore makes them queue, so at most ten are in flight. Reuse one httpx.AsyncClient for all of them so connections are pooled.",
        "And how do I catch a timeout on one request without killing the others?",
        "Handle it inside the task: wrap the call in asyncio.timeout(5) (new in 3.11) and catch TimeoutError there, returning None or a sentinel. Only exceptions that escape a task cancel the group, so a task that handles its own timeout leaves its siblings running.",
    )),
    C("cg06", "chatgpt", "Tomato plant leaves turning yellow", "2024-06-02 17:45", (
        "The bottom leaves of my tomato plants are turning yellow and some have brown spots. They're in big pots on the balcony.",
        "Yellowing that starts at the lowest leaves and moves up usually means a nitrogen shortage: the plant moves nitrogen from old leaves to new growth. In pots the nutrients wash out fast, so feed every week with a balanced liquid fertiliser, then switch to a high-potassium tomato feed once the fruit sets.",
        "I water them every day, could that be it too?",
        "Daily watering can be too much if the pot doesn't drain: soggy roots can't take up nutrients and the leaves yellow all over. Water deeply only when the top 2 to 3 cm of soil is dry, and check that the drainage holes are clear. In a hot spell, big plants in pots may still need water daily.",
        "What about the brown spots with rings?",
        "Concentric rings on brown spots are the classic sign of early blight, a fungus that splashes up from the soil. Remove the affected leaves, water at the base instead of over the foliage, mulch the soil surface and leave space between plants for air. A copper-based spray can slow it down.",
    )),
    C("cg07", "chatgpt", "Cover letter for a data engineer role", "2024-03-05 21:15", (
        "Can you help me write a cover letter for a data engineer job at a logistics company? I've done five years of backend work in Python and built our ETL pipelines.",
        "Sure. Open with the connection between you and them rather than a summary of your CV: for example, that you moved a nightly batch job to an incremental pipeline and cut delivery reporting from 6 hours to 20 minutes. Then pick two achievements that match the posting, show the numbers, and close by saying what you'd like to build in their team.",
        "They mention Airflow and dbt, and I've only used Airflow.",
        "Mention dbt honestly as something you are ramping up on, and connect it to what you know: you have written SQL transformations and tested them, and dbt formalises that. Hiring managers prefer that to a list of buzzwords. Keep the whole letter under 350 words.",
        "Should I attach a portfolio or GitHub link?",
        "Yes, if it shows relevant work: one or two well-documented pipeline projects with a README that explains the data, the design choices and how to run them beat a long list of half-finished repositories. Put the link in your signature line rather than in the body.",
    )),
    C("cg08", "chatgpt", "Recovering commits after a bad rebase", "2024-03-12 16:00", (
        "I did an interactive rebase, resolved conflicts badly and now two of my commits are gone. I already closed the terminal. Can I get them back?",
        "Yes, almost certainly. Git keeps every position HEAD has been at in the reflog for 90 days. Run git reflog, find the entry just before 'rebase (start)', and note its hash. Then git branch rescue <hash> gives you a branch pointing at your work as it was before the rebase.",
        "Found it. How do I get my branch back to that state?",
        "If you want to throw the rebase away completely: git switch your-branch, then git reset --hard rescue. If you want to keep the rebased history and only recover the two lost commits, cherry-pick them: git cherry-pick <hash1> <hash2>. Next time, git rebase --abort during a messy conflict returns you to where you started.",
        "Can I make rebasing less painful next time?",
        "Turn on rerere (git config --global rerere.enabled true) so Git remembers how you resolved a conflict and reapplies the resolution, rebase often onto the main branch so conflicts stay small, and keep commits focused. git rebase -i --autosquash with fixup commits keeps the history tidy without manual reordering.",
    )),
    C("cg09", "chatgpt", "Sixteen week marathon plan", "2024-04-01 07:05", (
        "I want to run my first marathon in October. I currently run 25 km a week. Can you give me a training structure?",
        "A 16-week plan works well from your base. Run four days a week: one long run, one tempo or interval session, two easy runs. Increase weekly distance by no more than about 10 percent, and every fourth week cut back by a quarter to recover. Most of your running, around 80 percent, should be at an easy conversational pace.",
        "How long should the longest run be?",
        "Build the long run gradually to 30 to 32 km, three to four weeks before the race. Going beyond that adds injury risk more than fitness for a first marathon. Practice your race-day breakfast, gels and drinks on the long runs.",
        "And the last weeks before the race?",
        "Taper for about three weeks: cut volume to roughly 75, 50 and then 30 percent of your peak, but keep a little race-pace running so your legs stay sharp. Sleep more, eat more carbohydrates in the last two to three days, and don't try anything new on race day.",
    )),
    C("cg10", "chatgpt", "Espresso tastes sour and spurts", "2024-04-18 09:25", (
        "My espresso shots come out sour and the puck has little holes in it. I'm using a new grinder with fresh beans.",
        "Sour means under-extracted: water went through too fast. The holes in the puck are signs of channeling, water finding a weak path through the coffee bed. Grind finer until an 18 g dose gives about 36 g of espresso in 25 to 30 seconds.",
        "I ground finer and now it's sour AND bitter.",
        "That combination is typical of channeling: part of the puck over-extracts while the rest is bypassed. Improve the puck preparation: break up clumps with a WDT tool (a few thin needles stirred through the grounds), tamp level, and make sure the basket is evenly filled. A puck screen on top can help too.",
        "How hot should the water be?",
        "Most machines brew at 92 to 96 °C. Lighter roasts extract better at the hot end, darker roasts at the cooler end, where they taste less bitter. If your machine has no temperature control, flush a little water through the group head before pulling the shot to stabilise it.",
    )),
    C("cg11", "chatgpt", "Monthly budget and emergency fund", "2024-05-07 20:50", (
        "I take home 3,200 a month and never seem to save anything. How should I split my income?",
        "A simple starting point is the 50/30/20 rule: 50 percent for needs (rent, utilities, groceries, transport), 30 percent for wants, 20 percent for savings and extra debt payments. For you that is 1,600, 960 and 640. Automate the 640 so it leaves your account on payday before you can spend it.",
        "How big should my emergency fund be?",
        "Aim for three to six months of essential expenses, not income. If your needs are about 1,600, that's 4,800 to 9,600. Keep it in an instant-access savings account, separate from your everyday account, and build it before investing. A first target of one month's expenses already protects you from most surprises.",
        "What should I do with money beyond the emergency fund?",
        "Pay off any debt above roughly 6 to 7 percent interest first, then contribute enough to your workplace pension to get the full employer match, which is an instant return. After that, a low-cost global index fund for money you won't need for at least five years.",
    )),
    C("cg12", "chatgpt", "Fighting the Rust borrow checker", "2024-05-15 13:35", (
        "Rust says: cannot borrow `self.items` as mutable because it is also borrowed as immutable. I'm looping over self.items and calling self.update(item) inside.",
        "The loop holds an immutable borrow of self.items for its whole duration, and self.update needs &mut self, which would include the items being iterated. Rust forbids that because update could modify the vector and invalidate the iterator.",
        "How do I fix it without cloning everything?",
        "A few options: iterate over indices (for i in 0..self.items.len()) and read self.items[i] inside the body; collect just the changes first and apply them after the loop; or make update take only the fields it really needs instead of &mut self, so the borrows are on disjoint fields, which the borrow checker accepts.",
        "What does the lifetime 'a in struct Parser<'a> mean?",
        "It says that a Parser holds a reference that must not outlive some data borrowed from elsewhere, typically the input string. The compiler uses it to make sure the Parser is dropped before the text it points into. It costs nothing at run time; it only constrains the code that creates and uses the Parser.",
    )),
    C("cl01", "claude", "Fixing a flat on a tubeless bike tyre", "2024-05-25 18:10", (
        "I got a puncture on my gravel bike and the tubeless sealant didn't seal it. Air keeps hissing out of a small cut.",
        "For a cut that sealant can't close, use a tubeless plug (sometimes called a bacon strip): push it into the hole with the insertion tool, leaving the ends sticking out, then reinflate. Spin the wheel so sealant coats the plug. Most plugs hold for the rest of the tyre's life.",
        "How often do I need to top up the sealant?",
        "Every two to six months, more often in hot, dry weather because it evaporates. Shake the wheel: if you no longer hear sloshing, add 30 to 60 ml through the valve after removing the valve core. Carry a spare inner tube anyway, in case the cut is too large for a plug.",
        "What tyre pressure should I run tubeless on gravel?",
        "Lower than with tubes: for 40 mm gravel tyres and a rider around 75 kg, roughly 2.0 to 2.4 bar (30 to 35 psi) front and a little more at the rear. Go lower on loose or rough surfaces for grip and comfort, higher on tarmac. An inexpensive digital gauge is more accurate than most pump gauges.",
    )),
    C("cl02", "claude", "Shrinking a Docker image", "2024-06-10 11:55", (
        "Our Python service image is 1.4 GB. How can I make it smaller?",
        "Start with a multi-stage build: install compilers and build your wheels in a builder stage, then copy only the installed packages into a slim final stage such as python:3.12-slim. Add a .dockerignore so tests, .git and local virtualenvs never enter the build context.",
        "Would distroless or alpine be even smaller?",
        "Alpine uses musl instead of glibc, so many Python wheels must be compiled from source, which often makes builds slower and images not much smaller. Distroless images hold only the runtime, no shell or package manager, which shrinks the attack surface, but debugging needs an ephemeral debug container. slim plus multi-stage usually gets you under 200 MB.",
        "And how do I keep builds fast in CI?",
        "Order the Dockerfile from least to most frequently changed: copy requirements and install dependencies before copying the source, so the dependency layer stays cached. Use BuildKit cache mounts (RUN --mount=type=cache,target=/root/.cache/pip) and push a cache image from CI so fresh runners can reuse layers.",
    )),
    C("cl03", "claude", "When to use the Spanish subjunctive", "2024-06-21 20:05", (
        "I keep getting the subjunctive wrong in Spanish. When do I actually need it?",
        "Think of the acronym WEIRDO: wishes, emotions, impersonal expressions, recommendations, doubt and denial, ojalá. When the main clause expresses one of these about someone else, the verb in the que-clause goes into the subjunctive: Quiero que vengas (I want you to come), Me alegra que estés aquí.",
        "So why is it 'creo que tiene razón' and not 'tenga'?",
        "Because creer in the affirmative expresses belief, not doubt, so it takes the indicative. Negate it and it flips: No creo que tenga razón. The same happens with pensar and parecer. It's one of the most common traps for learners.",
        "What about after cuando, like 'cuando llegue'?",
        "Cuando takes the subjunctive when it refers to the future, because the event hasn't happened yet: Te llamo cuando llegue (I'll call you when I arrive). Describing a habit or the past, it takes the indicative: Siempre me llama cuando llega. The same rule covers hasta que, en cuanto and tan pronto como.",
    )),
    C("cl04", "claude", "useEffect keeps re-running", "2024-07-02 15:20", (
        "My React component fetches data in useEffect and it's making hundreds of requests, the network tab is full. What am I doing wrong?",
        "Most likely the effect updates state that is also in its dependency array, or a dependency is an object or function recreated on every render. Each render creates a new reference, React sees a changed dependency, runs the effect again, which sets state, which renders again: an infinite loop.",
        "I pass an options object as a dependency, built inline in the parent.",
        "That's it. Either memoize the object in the parent with useMemo, depend on its primitive fields instead (options.page, options.filter), or move its construction inside the effect. For data fetching, a library like TanStack Query handles caching and deduplication for you and avoids the whole class of bugs.",
    )),
    C("cl05", "claude", "Cat throwing up hairballs", "2024-07-14 08:40", (
        "My long-haired cat has thrown up hairballs three times this week. Should I be worried?",
        "Occasional hairballs are normal for long-haired cats, but three in a week is more than usual. Brush her daily to remove loose fur before she swallows it, and consider a hairball-control food with more fibre. A teaspoon of plain canned pumpkin can also help things move along.",
        "When should I take her to the vet?",
        "See a vet promptly if she retches without bringing anything up, stops eating, seems lethargic, is constipated, or vomits food rather than fur, since these can point to a blockage or another illness. Frequent vomiting is common in cats but never something to ignore for weeks.",
    )),
    C("cl06", "claude", "Negotiating a job offer", "2024-07-30 19:00", (
        "I got an offer for 72k but I was hoping for 80k. How do I negotiate without losing the offer?",
        "Offers are rarely withdrawn for a polite counter. Thank them, say you're excited about the role, then anchor with a specific number backed by evidence: market data for the role and city, and the scope you'd be taking on. Something like: based on the responsibilities and what similar roles pay here, I was expecting 80k; can we get closer to that?",
        "What if they say the salary is fixed?",
        "Then negotiate the rest of the package: a signing bonus, an earlier salary review (after six months instead of twelve), extra holiday days, a training budget or remote-work days. Ask for the final offer in writing before you accept.",
    )),
    C("cl07", "claude", "Parsing nginx logs with a regex", "2024-08-08 10:30", (
        "I need a regex to pull the IP, timestamp, method, path and status out of nginx access log lines.",
        "For the default combined format this works in Python: ^(?P<ip>\\S+) \\S+ \\S+ \\[(?P<time>[^\\]]+)\\] \"(?P<method>[A-Z]+) (?P<path>\\S+) [^\"]*\" (?P<status>\\d{3}). Named groups make the match readable: m.group('status'). Compile it once with re.compile outside the loop.",
        "Some lines don't match, the request field is just a dash.",
        "Those are malformed or empty requests (often scanners or health checks that close the connection), logged as \"-\" with status 400. Make the method-path part optional: \"(?:(?P<method>[A-Z]+) (?P<path>\\S+) [^\"]*|-)\", and count lines that still fail instead of silently dropping them.",
    )),
    C("cl08", "claude", "Dripping kitchen tap", "2024-08-19 12:15", (
        "My kitchen mixer tap keeps dripping even when the handle is fully closed. Do I need a plumber?",
        "Usually not. Modern single-lever mixer taps use a ceramic cartridge, and a worn cartridge is the most common cause of a steady drip. Turn off the isolation valves under the sink, pry off the cap on the handle, undo the screw, remove the handle and unscrew the retaining nut to pull out the cartridge.",
        "How do I buy the right replacement?",
        "Take the old cartridge to the shop or note the brand and model of the tap; cartridges are measured by diameter (35 mm and 40 mm are common) and the number and shape of the splines on the stem. Clean limescale off the seat before fitting the new one, and reassemble in reverse order.",
    )),
    C("cl09", "claude", "Model overfits after a few epochs", "2024-09-03 14:45", (
        "My neural network reaches 99% training accuracy but the validation accuracy peaks at 78% after epoch 5 and then drops. What can I do?",
        "That gap is overfitting: the model memorises the training set. Use early stopping on validation loss (keep the best checkpoint, stop after a few epochs without improvement), add dropout, and apply weight decay, which is L2 regularization. Data augmentation is often the single most effective fix for images.",
        "Should I also make the model smaller?",
        "Possibly, but try regularization first; larger regularized models often generalise better than small ones. Check the basics too: that the validation set comes from the same distribution, that no samples leak between train and validation, and that you're not tuning on the test set.",
    )),
    C("cl10", "claude", "Treasure hunt for a 7th birthday", "2024-09-15 16:25", (
        "I'm planning a birthday party for my son who's turning seven, about twelve kids in our garden. Ideas for a treasure hunt?",
        "Write rhyming clues that lead from one hiding spot to the next: the mailbox, under the trampoline, inside a welly, the shed. Split the kids into teams of three with different coloured clue cards so they don't crowd one spot. Eight to ten clues is about right for that age, and the treasure can be a box of small prizes for everyone.",
        "What if it rains?",
        "Move it indoors with clues hidden in rooms, or turn it into a pirate-themed hunt with a map drawn on brown paper and a cardboard chest. Have a backup activity ready, like decorating cupcakes or a dance-freeze game, for the kids who finish first.",
    )),
    C("ow01", "openwebui", "Terraform state lock won't release", "2024-10-01 09:05", (
        "terraform apply fails with: Error acquiring the state lock. ConditionalCheckFailedException. Nobody else is running terraform.",
        "The S3 backend keeps its lock as an item in a DynamoDB table. A previous run that crashed or was killed (a cancelled CI job, a closed laptop) can leave the lock behind. The error message prints a Lock Info block with an ID, the path and who created it: check that the process really is gone first.",
        "Yes, it was a CI job I cancelled. How do I remove the lock?",
        "Run terraform force-unlock <LOCK_ID> with the ID from the error message, from the same working directory and backend configuration. Only do it when you are sure no apply is in progress, otherwise two runs can write the state at once and corrupt it. Enable versioning on the state bucket so you can roll back a bad state file.",
    )),
    C("ow02", "openwebui", "Propagating a monstera", "2024-10-09 17:30", (
        "My monstera is getting huge. Can I propagate a cutting in water?",
        "Yes. Cut just below a node (the bump where a leaf joins the stem), ideally one with an aerial root, and keep at least one leaf. Put the node in a jar of water in bright indirect light, change the water every few days, and roots appear in two to four weeks.",
        "When should I move it to soil?",
        "Pot it when the roots are 5 to 10 cm long, in a chunky, well-draining mix such as potting soil with orchid bark and perlite. Keep the soil slightly moist for the first weeks, since water roots need time to adapt.",
    )),
    C("ow03", "openwebui", "Running total with window functions", "2024-10-17 11:40", (
        "How do I compute a running total of sales per customer in SQL, ordered by date?",
        "Use a window function: SELECT customer_id, sale_date, amount, SUM(amount) OVER (PARTITION BY customer_id ORDER BY sale_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_total FROM sales. PARTITION BY restarts the sum for each customer and ORDER BY defines the accumulation order.",
        "And the previous row's amount for comparison?",
        "LAG(amount) OVER (PARTITION BY customer_id ORDER BY sale_date) returns the previous row's value in the same partition, NULL for the first row. LEAD does the same looking forward. To rank rows within each customer, use ROW_NUMBER() or RANK() with the same window.",
    )),
    C("ow04", "openwebui", "Camping in the rain", "2024-10-26 20:10", (
        "We're going camping this weekend and it's supposed to rain the whole time. What should we pack?",
        "A tent with a full-coverage rainfly and a footprint that does not stick out beyond the tent floor (otherwise it channels water underneath), a tarp to rig over the cooking area, waterproof jackets and trousers, wool or synthetic layers (cotton stays wet), dry bags for sleeping bags and clothes, and a headlamp each.",
        "Any tips for keeping the inside of the tent dry?",
        "Pitch on slightly raised ground, never in a dip, and keep the rainfly taut so it does not touch the inner tent. Leave the vents open: most wetness inside is condensation from breathing, not leaks. Keep wet gear in the vestibule and take off boots before going in.",
    )),
    C("ow05", "openwebui", "Can't sleep, mind racing", "2024-11-04 01:55", (
        "I lie awake for hours most nights, my mind just races. Any tips that actually work?",
        "Keep a fixed wake-up time every day, even at weekends: it anchors your body clock more than the time you go to bed. Get daylight in the morning, stop caffeine after noon, and keep the bedroom cool and dark. If you're still awake after about twenty minutes, get up and do something dull in dim light until you feel sleepy.",
        "What about the racing thoughts?",
        "Try a worry journal: an hour before bed write down what is on your mind and the next step for each item, so your brain doesn't have to hold it. Slow breathing, such as breathing in for four counts and out for six, calms the nervous system. If it persists for months, CBT for insomnia (CBT-I) is the best-supported treatment, better than sleeping pills in the long run.",
    )),
    C("ow06", "openwebui", "pytest fixtures and freezing time", "2024-11-12 15:00", (
        "How do I share a database setup between many pytest tests without repeating code?",
        "Put a fixture in conftest.py: pytest discovers it automatically for every test in that directory. Use scope='session' for expensive setup such as starting a database once, and a function-scoped fixture that yields a transaction and rolls it back afterwards, so each test starts clean.",
        "One function uses datetime.now() and the test fails at midnight. How do I control the time?",
        "Inject a clock instead of calling datetime.now() directly, or freeze time in the test: the freezegun library's @freeze_time('2024-01-01 12:00') decorator makes datetime.now() return that moment. The time-machine package does the same and is faster. pytest's monkeypatch can also replace a module-level now() helper.",
    )),
    C("ow07", "openwebui", "Toast for my brother's wedding", "2024-11-20 22:35", (
        "I'm the best man at my brother's wedding next month. Can you help me with a short toast? He's an engineer, she's a teacher, they met at a climbing gym.",
        "Here's a start: 'For those who don't know me, I'm Tom's little brother, which means I've spent thirty years losing to him at everything. So when he told me he'd met someone at the climbing gym, I assumed he'd found a new way to win. Turns out he'd found someone who could keep up with him, and then, Sarah, you showed him where the next hold was.' Keep it to three minutes, one story, and end by raising a glass to the couple.",
        "Can you make the ending more emotional?",
        "Try: 'Tom, you've always been the one who plans every route. Sarah, thank you for being the person he doesn't need a plan with. Please raise your glasses: to Tom and Sarah, and to every climb still ahead of you.' Pause before the last line and look at them, not at your notes.",
    )),
    C("ow08", "openwebui", "Server disk full", "2024-12-02 08:15", (
        "Our Ubuntu server says no space left on device. df -h shows / at 100%. How do I find what's eating the disk?",
        "Start with du -xh / --max-depth=1 | sort -h to see the biggest top-level directories on that filesystem, then drill down. The usual suspects are /var/log, /var/lib/docker and old kernels. ncdu gives the same view interactively if you can install it.",
        "/var/log/journal is 18 GB.",
        "The systemd journal has no size cap on some setups. Shrink it now with journalctl --vacuum-size=500M (or --vacuum-time=2weeks), then make it permanent by setting SystemMaxUse=500M in /etc/systemd/journald.conf and restarting systemd-journald. Also check for deleted files still held open with lsof +L1: their space is only freed when the process closes them.",
    )),
    C("cg13", "chatgpt", "Too many connections to Postgres", "2024-12-09 10:20", (
        "Our Django app throws FATAL: sorry, too many clients already during traffic spikes. max_connections is 100.",
        "Each Django worker process keeps its own connections, so 20 gunicorn workers times several threads quickly exceeds 100. Raising max_connections is a poor fix because every PostgreSQL connection is a process with its own memory. Put a connection pooler in front of the database instead.",
        "Which pooler, and in which mode?",
        "PgBouncer in transaction pooling mode is the usual choice: a client holds a server connection only for the duration of a transaction, so a few dozen real connections can serve hundreds of clients. Session-level features such as advisory locks held across transactions, SET without LOCAL and some prepared statements do not work in that mode, so check for them.",
        "Should I still set CONN_MAX_AGE in Django?",
        "With PgBouncer in transaction mode, keep persistent connections to PgBouncer (CONN_MAX_AGE of 60 seconds or so) and turn on CONN_HEALTH_CHECKS, and disable server-side cursors with DISABLE_SERVER_SIDE_CURSORS = True, because they need the same server connection across transactions.",
    )),
    C("cg14", "chatgpt", "Airy focaccia", "2024-12-14 16:45", (
        "My focaccia comes out dense, like a bread roll. I use 500 g flour, 325 g water and instant yeast.",
        "That's 65 percent hydration, on the low side for focaccia. Go to 75 to 80 percent (375 to 400 g water) and give it a long cold rise: mix, rest, do a few sets of stretch and folds, then let it ferment in the fridge for 12 to 24 hours. The slow fermentation builds flavour and big irregular bubbles.",
        "The dough is so sticky I can't handle it.",
        "That's normal at high hydration. Wet your hands instead of flouring them, use a bench scraper, and build strength with coil folds in the bowl rather than kneading on the counter. Pour plenty of olive oil into the tin, let the dough relax until it spreads to the corners by itself, then dimple it with oiled fingers just before baking at 230 °C.",
    )),
    C("cg15", "chatgpt", "Memory keeps growing in a Python worker", "2025-01-08 09:50", (
        "Our Python background worker's memory grows from 200 MB to 3 GB over a day and then it gets OOM killed. How do I find the leak?",
        "Take snapshots with tracemalloc: call tracemalloc.start() at boot, take a snapshot every hour and compare them with snapshot.compare_to(old, 'lineno'). The lines whose allocations keep growing point to the culprit. For a live process, py-spy dump shows where it is, and memray gives detailed allocation flame graphs.",
        "tracemalloc points at a function decorated with functools.lru_cache(maxsize=None).",
        "That's an unbounded cache: every distinct argument is kept forever, and if the arguments are large objects or include self, the cache also keeps those objects alive. Give it a maxsize, key it on a small identifier instead of the object, or use a cache with a TTL such as cachetools.TTLCache. Note that lru_cache on a method holds references to every instance it has seen.",
    )),
    C("cg16", "chatgpt", "Resignation letter", "2025-01-15 18:05", (
        "I'm leaving my job after four years for another offer. How do I write a resignation letter that keeps things friendly?",
        "Keep it short and positive: state that you are resigning, your last working day according to your notice period, a sincere thank-you for specific things (the mentoring, the projects), and an offer to help with the handover. Don't explain the new salary or criticise anyone; the letter goes into your file and people remember tone.",
        "My manager will probably make a counter-offer. Should I consider it?",
        "Decide before the conversation. If money was the only reason you looked, a counter-offer can be worth hearing, but most people who accept one leave within a year or two, because the reasons they started looking (growth, manager, projects) usually remain. Thank them, and say your decision is final if it is.",
    )),
    C("cg17", "chatgpt", "Overpay the mortgage or invest?", "2025-01-27 21:30", (
        "I have 500 extra each month. Should I overpay my mortgage at 4.1% or put it into an index fund?",
        "Overpaying gives a guaranteed, tax-free return equal to your interest rate, 4.1 percent. A global index fund has historically returned more over long periods, roughly 6 to 8 percent a year, but with years of losses along the way. First make sure you have an emergency fund and that any higher-interest debt is gone.",
        "What would you do in my place?",
        "Many people split it, for example half to each, which balances the certain return against the expected one and keeps them motivated. Check whether your lender charges early repayment fees above a yearly limit (often 10 percent of the balance), and use tax-advantaged accounts such as a pension or ISA for the investing half.",
    )),
    C("cl11", "claude", "CronJob never runs", "2025-02-03 08:35", (
        "I created a Kubernetes CronJob with schedule '0 2 * * *' but it never runs. kubectl get cronjob shows LAST SCHEDULE <none>.",
        "Check three things. The schedule is interpreted in the controller's time zone, usually UTC, unless you set spec.timeZone (stable since Kubernetes 1.27), so 02:00 might not be when you expect. Make sure spec.suspend is not true. And look at kubectl describe cronjob for events; a malformed schedule or a startingDeadlineSeconds that is too short will show up there.",
        "It has startingDeadlineSeconds: 10.",
        "That's very tight: if the controller is more than 10 seconds late, for example during a control-plane restart, the run is skipped and counted as missed, and after 100 missed schedules the controller stops trying altogether. Raise it to a few minutes or remove it. To test without waiting for 2 am, run kubectl create job --from=cronjob/<name> manual-test.",
    )),
    C("cl12", "claude", "Survival Japanese for travel", "2025-02-12 19:15", (
        "I have six weeks before my trip to Japan. Which Japanese phrases are most useful for a tourist?",
        "Focus on politeness and logistics: sumimasen (excuse me, also sorry and thank you for small favours), arigatou gozaimasu (thank you), ... wa doko desu ka (where is ...?), kore o kudasai (this one, please), and eigo no menyuu wa arimasu ka (do you have an English menu?). Learn to read the katakana syllabary too: menus and signs write loanwords in it.",
        "How do I say I have a food allergy?",
        "Say: watashi wa ... arerugii ga arimasu (I have a ... allergy), for example kurumi arerugii for walnuts or kani for crab. Carry a printed allergy card in Japanese as well, because dashi stock and soy sauce hide fish and wheat in many dishes.",
    )),
    C("cl13", "claude", "Shin pain when running", "2025-02-20 07:40", (
        "Since I increased my running to 40 km a week I have pain along the inside of my shin. Should I keep training?",
        "That sounds like shin splints (medial tibial stress syndrome), common after a quick increase in mileage. Cut back to a volume that is pain-free, swap some runs for cycling or swimming, and build back up slowly. Calf raises and hip strengthening help, and so do shoes that aren't worn out.",
        "How do I tell it apart from a stress fracture?",
        "Shin splints hurt along a longer stretch of the bone and often ease once you warm up. A stress fracture tends to be a small spot that is very painful when you press on it, hurts when you hop on that leg, and gets worse during a run or even at rest. If you suspect that, stop running and see a doctor; it may need an MRI.",
    )),
    C("cl14", "claude", "Setting a freelance day rate", "2025-03-02 14:10", (
        "I'm starting as a freelance developer. How do I work out my day rate?",
        "Start from the income you need: your target salary plus what an employer would pay on top (pension, insurance, holidays, equipment), then divide by realistically billable days, usually 180 to 200 a year once you subtract holidays, sick days, admin and time between contracts. A 70k salary equivalent often works out around 500 a day.",
        "Clients keep asking for an hourly rate instead.",
        "Quote a day rate or a fixed price per project where you can: hourly billing punishes you for working fast and invites clients to scrutinise every hour. If they insist, divide the day rate by 7 rather than 8 so the admin time stays covered, and put a minimum engagement in the contract.",
    )),
    C("cl15", "claude", "Submodules or subtrees", "2025-03-11 11:25", (
        "We want to share a library between three repositories. Should we use git submodules or git subtree?",
        "Submodules keep the library as a pointer to a specific commit of its own repository: the history stays separate, but everyone must remember git submodule update --init --recursive, and forgetting it is a classic source of confusion. Subtree copies the library's files into each repository, so a plain clone just works, but pushing changes back upstream is clumsier.",
        "Is there a third option?",
        "Often the best: publish the library as a package (to a private PyPI or npm registry) with version numbers, and depend on it like any other library. Then each repository upgrades when it's ready, and changes go through the library's own review and release process.",
    )),
    C("ow09", "openwebui", "Alert before the disk fills", "2025-03-18 09:45", (
        "After our server ran out of space last year I want an alert well before it happens. We use Prometheus and Grafana.",
        "node_exporter already exposes node_filesystem_avail_bytes. A predictive alert works better than a fixed threshold: predict_linear(node_filesystem_avail_bytes{fstype!~\"tmpfs|overlay\"}[6h], 24*3600) < 0 fires when the trend says the filesystem will be full within a day. Pair it with a plain rule for below 10 percent free.",
        "How do I avoid it firing constantly on a noisy volume?",
        "Add a for: 30m clause so the condition must hold for half an hour, widen the range window to 12h so short spikes average out, and route it with a lower severity than outages. Alertmanager's inhibition rules can also silence the warning while the critical alert for the same instance is firing.",
    )),
    C("ow10", "openwebui", "Cold brew ratio", "2025-03-25 13:05", (
        "What's a good ratio for making cold brew coffee at home?",
        "For a concentrate, use 1 part coarsely ground coffee to 5 parts cold water by weight, for example 200 g coffee and 1 litre of water, steep 16 to 20 hours in the fridge, then filter and dilute 1:1 with water or milk. For ready-to-drink cold brew, use 1:10 to 1:12 and no dilution.",
        "Mine tastes muddy and bitter.",
        "Muddy usually means the grind is too fine or the filtering too coarse, so fine particles keep extracting. Grind as coarse as for a French press, filter through a paper filter after the first pass through a mesh, and don't steep much beyond 20 hours.",
    )),
    C("ow11", "openwebui", "Fiddle leaf fig dropping leaves", "2025-04-02 17:55", (
        "My fiddle leaf fig is dropping its big lower leaves one by one since I moved it to a different room.",
        "Fiddle leaf figs hate change: a new spot with different light or a cold draught commonly makes them shed leaves for a few weeks. Give it the brightest spot you can without harsh afternoon sun, keep it away from radiators and doors, and don't move it again while it adjusts.",
        "The leaves have brown patches in the middle too.",
        "Brown patches in the middle of the leaf, especially with yellowing around them, often mean root rot from too much water, while crispy brown edges point to underwatering or dry air. Let the top 5 cm of soil dry before watering, and check that the pot drains; if the roots are black and mushy, trim them and repot in fresh mix.",
    )),
    C("ow12", "openwebui", "Puppy pulls on the lead", "2025-04-10 08:25", (
        "My 6-month-old labrador pulls so hard on the lead that walks are miserable. What actually works?",
        "Make pulling pointless: the moment the lead goes tight, stop and stand still like a tree, and only move on when it slackens. Reward him with a treat at your side whenever he walks with a loose lead. Practise in the garden first where there are fewer distractions, and keep sessions short.",
        "Should I use a harness?",
        "A front-clip harness, with the lead attached at the chest, turns him towards you when he pulls and takes pressure off his neck, so it's a good management tool while you train. Avoid choke and prong collars. Tire him out with a game of fetch before the walk too; a young labrador has a lot of energy.",
    )),
)

Q = DemoQuery

QUERIES: tuple[DemoQuery, ...] = (
    # -- sourdough (cg01)
    Q("demo-01", "paraphrase", "how often to refresh my levain and in what proportions", {"cg01:3": 2, "cg01:2": 1}),
    Q("demo-02", "keyword", "starter hooch acetone smell", {"cg01:1": 2, "cg01:0": 1}),
    Q("demo-03", "question", "when is my fermented dough culture at its peak for baking", {"cg01:5": 2, "cg01:4": 1}),
    # -- postgres (cg02)
    Q("demo-04", "keyword", "foreign key index seq scan orders", {"cg02:1": 2, "cg02:3": 2, "cg02:0": 1}),
    Q("demo-05", "paraphrase", "my database join was crawling until I added a multi-column index", {"cg02:3": 2, "cg02:2": 1}),
    Q("demo-06", "typo", "postgress explian analyze slow querry", {"cg02:1": 2, "cg02:0": 1}),
    # -- kubernetes (cg03)
    Q("demo-07", "paraphrase", "bad gateway errors for half a minute whenever we roll out a new version", {"cg03:1": 2, "cg03:0": 1}),
    Q("demo-08", "keyword", "preStop hook terminationGracePeriodSeconds", {"cg03:5": 2}),
    Q("demo-09", "typo", "kubernets readyness probe vs livenes", {"cg03:3": 2, "cg03:2": 1}),
    # -- kyoto (cg04)
    Q("demo-10", "question", "is the Japan rail pass still worth buying", {"cg04:3": 2, "cg04:2": 1}),
    Q("demo-11", "paraphrase", "quiet shrines and gardens away from the tourist crowds", {"cg04:5": 2, "cg04:4": 1, "cg04:1": 1}),
    Q("demo-12", "quoted", "\"Fushimi Inari is nearly empty before 7 am\"", {"cg04:1": 2}),
    # -- asyncio (cg05)
    Q("demo-13", "keyword", "TaskGroup ExceptionGroup gather", {"cg05:1": 2, "cg05:0": 1}),
    Q("demo-14", "paraphrase", "cap the number of concurrent web calls in async python", {"cg05:3": 2, "cg05:2": 1}),
    Q("demo-15", "question", "how can one request time out without cancelling the other tasks", {"cg05:5": 2, "cg05:4": 1}),
    # -- tomatoes (cg06)
    Q("demo-16", "paraphrase", "lower foliage going pale on my container veggies", {"cg06:1": 2, "cg06:0": 1}),
    Q("demo-17", "keyword", "early blight concentric rings", {"cg06:5": 2, "cg06:4": 1}),
    Q("demo-18", "typo", "tomatos overwatring yelow leafs", {"cg06:3": 2, "cg06:1": 1, "cg06:0": 1}),
    # -- cover letter (cg07)
    Q("demo-19", "paraphrase", "application letter for a data pipeline position", {"cg07:1": 2, "cg07:0": 1}),
    Q("demo-20", "question", "how to handle a tool in the job ad I have never used", {"cg07:3": 2, "cg07:2": 1}),
    # -- git (cg08)
    Q("demo-21", "paraphrase", "undo a rebase that lost my work", {"cg08:1": 2, "cg08:3": 2, "cg08:0": 1}),
    Q("demo-22", "keyword", "git reflog rescue branch", {"cg08:1": 2}),
    Q("demo-23", "quoted", "\"git rebase --abort\"", {"cg08:3": 2}),
    # -- marathon (cg09)
    Q("demo-24", "paraphrase", "reducing mileage in the weeks before race day", {"cg09:5": 2, "cg09:4": 1}),
    Q("demo-25", "question", "what distance should my longest training run be", {"cg09:3": 2, "cg09:2": 1}),
    Q("demo-26", "typo", "marathn trainig plan 16 weks", {"cg09:1": 2, "cg09:0": 1}),
    # -- espresso (cg10)
    Q("demo-27", "keyword", "channeling WDT puck", {"cg10:3": 2, "cg10:1": 1}),
    Q("demo-28", "paraphrase", "my coffee shot is acidic and runs through too quickly", {"cg10:1": 2, "cg10:0": 1}),
    # -- budget (cg11)
    Q("demo-29", "keyword", "50/30/20 rule", {"cg11:1": 2}),
    Q("demo-30", "paraphrase", "how much cash to keep aside for unexpected expenses", {"cg11:3": 2, "cg11:2": 1}),
    # -- rust (cg12)
    Q("demo-31", "quoted", "\"cannot borrow as mutable because it is also borrowed as immutable\"", {"cg12:1": 2, "cg12:0": 2}),
    Q("demo-32", "paraphrase", "what does the tick a annotation on a struct mean", {"cg12:5": 2, "cg12:4": 1}),
    Q("demo-33", "question", "avoid cloning when mutating while iterating a vector", {"cg12:3": 2, "cg12:2": 1}),
    # -- bike (cl01)
    Q("demo-34", "paraphrase", "the sealant won't close the hole in my gravel tyre", {"cl01:1": 2, "cl01:0": 1}),
    Q("demo-35", "keyword", "bacon strip plug tubeless", {"cl01:1": 2}),
    Q("demo-36", "question", "how often should sealant be refilled", {"cl01:3": 2, "cl01:2": 1}),
    # -- docker (cl02)
    Q("demo-37", "paraphrase", "make the container image lighter", {"cl02:1": 2, "cl02:0": 1, "cl02:3": 1}),
    Q("demo-38", "keyword", "alpine musl distroless", {"cl02:3": 2}),
    Q("demo-39", "typo", "dockerfile layer cachng in CI bildkit", {"cl02:5": 2, "cl02:4": 1}),
    # -- spanish (cl03)
    Q("demo-40", "paraphrase", "rules for the Spanish mood used after expressions of desire", {"cl03:1": 2, "cl03:0": 1}),
    Q("demo-41", "quoted", "\"No creo que tenga razón\"", {"cl03:3": 2}),
    # -- react (cl04)
    Q("demo-42", "paraphrase", "component keeps firing network calls in an endless cycle", {"cl04:1": 2, "cl04:0": 1}),
    Q("demo-43", "keyword", "useMemo dependency array object", {"cl04:3": 2, "cl04:2": 1}),
    # -- cat (cl05)
    Q("demo-44", "paraphrase", "my kitty keeps vomiting fur", {"cl05:1": 2, "cl05:0": 1}),
    Q("demo-45", "question", "signs that a vomiting cat needs to see the veterinarian", {"cl05:3": 2, "cl05:2": 1}),
    # -- salary (cl06)
    Q("demo-46", "paraphrase", "ask for more pay without the offer being withdrawn", {"cl06:1": 2, "cl06:0": 1}),
    Q("demo-47", "keyword", "signing bonus salary fixed", {"cl06:3": 2, "cl06:2": 1}),
    # -- regex (cl07)
    Q("demo-48", "keyword", "nginx access log regex named groups", {"cl07:1": 2, "cl07:0": 1}),
    Q("demo-49", "paraphrase", "web server log entries whose request is only a hyphen", {"cl07:3": 2, "cl07:2": 1}),
    # -- tap (cl08)
    Q("demo-50", "paraphrase", "faucet leaks when turned off", {"cl08:1": 2, "cl08:0": 1}),
    Q("demo-51", "typo", "replacment ceramic catridge 35mm", {"cl08:3": 2, "cl08:1": 1}),
    # -- ML (cl09)
    Q("demo-52", "paraphrase", "validation score gets worse while training score keeps improving", {"cl09:1": 2, "cl09:0": 1}),
    Q("demo-53", "keyword", "early stopping dropout weight decay", {"cl09:1": 2}),
    # -- party (cl10)
    Q("demo-54", "paraphrase", "games for a kids party in the backyard", {"cl10:1": 2, "cl10:0": 1}),
    Q("demo-55", "question", "plan b if the weather is bad for the party", {"cl10:3": 2, "cl10:2": 1}),
    # -- terraform (ow01)
    Q("demo-56", "quoted", "\"Error acquiring the state lock\"", {"ow01:0": 2, "ow01:1": 2}),
    Q("demo-57", "keyword", "terraform force-unlock", {"ow01:3": 2, "ow01:2": 1}),
    # -- monstera (ow02)
    Q("demo-58", "paraphrase", "growing a new swiss cheese plant from a stem piece", {"ow02:1": 2, "ow02:0": 1}),
    Q("demo-59", "question", "when to pot water roots into soil", {"ow02:3": 2, "ow02:2": 1}),
    # -- window functions (ow03)
    Q("demo-60", "keyword", "SUM OVER PARTITION BY running total", {"ow03:1": 2, "ow03:0": 1}),
    Q("demo-61", "paraphrase", "compare each sale with the one before it", {"ow03:3": 2, "ow03:2": 1}),
    # -- camping (ow04)
    Q("demo-62", "paraphrase", "what gear to bring for a wet weekend outdoors", {"ow04:1": 2, "ow04:0": 1}),
    Q("demo-63", "keyword", "condensation rainfly vents", {"ow04:3": 2}),
    # -- sleep (ow05)
    Q("demo-64", "paraphrase", "trouble falling asleep because my thoughts won't stop", {"ow05:3": 2, "ow05:0": 1, "ow05:1": 1}),
    Q("demo-65", "keyword", "CBT-I insomnia", {"ow05:3": 2}),
    # -- pytest (ow06)
    Q("demo-66", "paraphrase", "test breaks around midnight because of the current date", {"ow06:3": 2, "ow06:2": 1}),
    Q("demo-67", "keyword", "conftest.py fixture scope session", {"ow06:1": 2, "ow06:0": 1}),
    # -- toast (ow07)
    Q("demo-68", "paraphrase", "speech for my sibling's marriage celebration", {"ow07:1": 2, "ow07:0": 1, "ow07:3": 1}),
    # -- disk (ow08)
    Q("demo-69", "quoted", "\"no space left on device\"", {"ow08:0": 2, "ow08:1": 1}),
    Q("demo-70", "keyword", "journalctl vacuum SystemMaxUse", {"ow08:3": 2, "ow08:2": 1}),
    Q("demo-71", "typo", "linux disc ful find bigest files", {"ow08:1": 2, "ow08:0": 1}),
    # -- pgbouncer (cg13)
    Q("demo-72", "quoted", "\"sorry, too many clients already\"", {"cg13:0": 2, "cg13:1": 1}),
    Q("demo-73", "paraphrase", "share a small number of database sessions among many app processes", {"cg13:3": 2, "cg13:1": 1}),
    Q("demo-74", "keyword", "CONN_MAX_AGE server side cursors pgbouncer", {"cg13:5": 2, "cg13:4": 1}),
    # -- focaccia (cg14)
    Q("demo-75", "paraphrase", "flatbread turns out heavy and tight instead of bubbly", {"cg14:1": 2, "cg14:0": 1}),
    Q("demo-76", "typo", "hi hydration doug to stiky", {"cg14:3": 2, "cg14:2": 1}),
    # -- memory leak (cg15)
    Q("demo-77", "keyword", "tracemalloc snapshot compare", {"cg15:1": 2}),
    Q("demo-78", "paraphrase", "cached function results keep objects in RAM forever", {"cg15:3": 2, "cg15:2": 1}),
    # -- resignation (cg16)
    Q("demo-79", "paraphrase", "quitting my position on good terms", {"cg16:1": 2, "cg16:0": 1}),
    Q("demo-80", "question", "should I accept when my boss offers more money to stay", {"cg16:3": 2, "cg16:2": 1}),
    # -- mortgage (cg17)
    Q("demo-81", "paraphrase", "pay down the home loan early or buy stocks", {"cg17:1": 2, "cg17:0": 1, "cg17:3": 1}),
    Q("demo-82", "keyword", "early repayment fees ISA pension", {"cg17:3": 2}),
    # -- cronjob (cl11)
    Q("demo-83", "paraphrase", "scheduled task in the cluster is silently skipped", {"cl11:1": 2, "cl11:3": 2, "cl11:0": 1}),
    Q("demo-84", "keyword", "startingDeadlineSeconds missed schedules", {"cl11:3": 2, "cl11:2": 1}),
    # -- japanese (cl12)
    Q("demo-85", "paraphrase", "useful expressions for a tourist in Tokyo", {"cl12:1": 2, "cl12:0": 1}),
    Q("demo-86", "question", "how do I tell a restaurant in Japan that I'm allergic to nuts", {"cl12:3": 2, "cl12:2": 1}),
    # -- shins (cl13)
    Q("demo-87", "paraphrase", "lower leg ache after upping my weekly kilometres", {"cl13:1": 2, "cl13:0": 1}),
    Q("demo-88", "typo", "shin splits or stres fracture", {"cl13:3": 2, "cl13:1": 1}),
    # -- freelance (cl14)
    Q("demo-89", "paraphrase", "how much to charge clients per day as an independent contractor", {"cl14:1": 2, "cl14:0": 1}),
    Q("demo-90", "keyword", "hourly rate billable days", {"cl14:3": 2, "cl14:1": 1}),
    # -- submodules (cl15)
    Q("demo-91", "keyword", "git submodule update --init --recursive", {"cl15:1": 2}),
    Q("demo-92", "paraphrase", "reuse common code across several repos", {"cl15:1": 2, "cl15:3": 2, "cl15:0": 1}),
    # -- disk alert (ow09)
    Q("demo-93", "keyword", "predict_linear node_filesystem_avail_bytes", {"ow09:1": 2}),
    Q("demo-94", "paraphrase", "get warned before storage runs out", {"ow09:1": 2, "ow09:0": 1}),
    # -- cold brew (ow10)
    Q("demo-95", "paraphrase", "how much ground beans per litre for iced steeped coffee", {"ow10:1": 2, "ow10:0": 1}),
    # -- fiddle leaf fig (ow11)
    Q("demo-96", "paraphrase", "indoor tree shedding foliage after relocation", {"ow11:1": 2, "ow11:0": 1}),
    Q("demo-97", "typo", "fidle leaf fig brown spots root rott", {"ow11:3": 2, "ow11:2": 1}),
    # -- puppy (ow12)
    Q("demo-98", "paraphrase", "stop my young dog from tugging during walks", {"ow12:1": 2, "ow12:0": 1}),
    Q("demo-99", "keyword", "front-clip harness", {"ow12:3": 2, "ow12:2": 1}),
    Q("demo-100", "paraphrase", "resolve the same merge conflict automatically when it comes back", {"cg08:5": 2, "cg08:4": 1}),
    Q("demo-101", "keyword", "brew temperature light roast", {"cg10:5": 2, "cg10:4": 1}),
    Q("demo-102", "question", "what tyre pressure for tubeless gravel tyres", {"cl01:5": 2, "cl01:4": 1}),
    Q("demo-103", "paraphrase", "which verb form follows 'when' about a future event in Spanish", {"cl03:5": 2, "cl03:4": 1}),
    Q("demo-104", "paraphrase", "where to put savings once the rainy day fund is full", {"cg11:5": 2, "cg11:4": 1}),
)
