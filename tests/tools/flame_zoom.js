// flame_zoom.js: drives the flame graph's script in a page that holds a threads flame
// graph (report.sh puts it in a script element after the SVG and opens the page in
// headless Chromium): hover a frame, click it, click the root. Appends a pre element,
// id "result", holding five answers: the details line shows the hovered frame's
// title; the clicked frame's rect width after the zoom; fewer frames are visible
// then; all are again after the root's click; the frame has its first width back.
// (No markup in these comments: report.sh finds the result in the DOM dump by its tag.)
var fs = [].slice.call(document.querySelectorAll('g.fg-f'));
function vis() { return fs.filter(function (g) { return g.style.display != 'none'; }).length; }
var g = fs.filter(function (g) { return g.getAttribute('data-d') == '1' && +g.getAttribute('data-w') < 1; })[0];
var w0 = g.querySelector('rect').getAttribute('width');
g.dispatchEvent(new MouseEvent('mouseover'));
var det = document.querySelector('.fg-details').textContent == g.querySelector('title').textContent;
g.dispatchEvent(new MouseEvent('click'));
var zw = g.querySelector('rect').getAttribute('width'), zv = vis();
fs[0].dispatchEvent(new MouseEvent('click'));
var out = document.createElement('pre');
out.id = 'result';
out.textContent = [det, zw, zv < fs.length, vis() == fs.length,
                   parseFloat(g.querySelector('rect').getAttribute('width')) == parseFloat(w0)].join(' ');
document.body.appendChild(out);
