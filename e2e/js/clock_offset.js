let sum = 0, n = 0;
const end = performance.now() + 20;
while (performance.now() < end) { sum += performance.timeOrigin + performance.now() - Date.now(); n++; }
return sum / n;
